"""The committed teachers are the checkpoints their README names: each row's fingerprint matches the file,
and the stored test accuracy is the one the README reports."""

import json
import re
from pathlib import Path

import pytest

from dfq.table import teacher_fingerprint
from nas.train import load_checkpoint

TEACHERS = Path(__file__).resolve().parents[2] / "results" / "teachers"
ROW = re.compile(
    r"^\| `(?P<file>[\w.]+\.pt)` \|.*\| [\d.]+% / (?P<test>[\d.]+)% \| `(?P<fp>[0-9a-f]{16})` \|$"
)


def readme_rows() -> list[dict]:
    lines = (TEACHERS / "README.md").read_text().splitlines()
    return [m.groupdict() for m in map(ROW.match, lines) if m]


def test_every_committed_checkpoint_has_a_readme_row():
    assert sorted(r["file"] for r in readme_rows()) == sorted(p.name for p in TEACHERS.glob("*.pt"))


@pytest.mark.parametrize("row", readme_rows(), ids=lambda r: r["file"])
def test_readme_fingerprint_and_accuracy_match_the_file(row):
    teacher, _ = load_checkpoint(TEACHERS / row["file"])
    assert teacher_fingerprint(teacher) == row["fp"]
    result = json.loads((TEACHERS / row["file"].replace(".pt", ".result.json")).read_text())
    assert f"{100 * result['test_acc']:.2f}" == row["test"]
