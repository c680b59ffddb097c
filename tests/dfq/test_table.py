import copy
import json
from pathlib import Path

import pytest
import torch
from torch import nn

from accel_model.files import read_rows, runs_path, write_rows
from dfq.api import dfq_profile
from dfq.table import (
    ProtocolMismatch,
    TeacherMismatch,
    check_same_teacher,
    protocol_fingerprint,
    protocol_record,
    protocols_path,
    run_table,
    teacher_fingerprint,
)


def small_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.LazyLinear(3))


def test_fingerprint_follows_the_numbers_not_the_object():
    net = small_net()
    net(torch.zeros(1, 1, 6, 6))  # materialize the lazy layer
    same = copy.deepcopy(net)
    assert teacher_fingerprint(net) == teacher_fingerprint(same)
    with torch.no_grad():
        same[0].weight[0, 0, 0, 0] += 1e-6  # one value in one weight
    assert teacher_fingerprint(net) != teacher_fingerprint(same)
    same.load_state_dict(net.state_dict())
    assert teacher_fingerprint(net) == teacher_fingerprint(same)


def test_rows_of_another_or_no_teacher_are_refused(tmp_path):
    check_same_teacher([], "aaaa", tmp_path / "r.csv")  # nothing to mix with
    check_same_teacher([{"teacher": "aaaa"}], "aaaa", tmp_path / "r.csv")
    for rows in ([{"teacher": "bbbb"}], [{"teacher": "aaaa"}, {"teacher": "bbbb"}], [{"fp_test_acc": "0.9"}]):
        with pytest.raises(TeacherMismatch, match="different teacher"):
            check_same_teacher(rows, "aaaa", tmp_path / "r.csv")


def test_protocol_fingerprint_follows_the_settings_and_the_quantizer_options():
    base = protocol_fingerprint(protocol_record(dfq_profile("quick"), None))
    assert base == protocol_fingerprint(protocol_record(dfq_profile("quick", finetune_steps=None), {}))
    assert base == protocol_fingerprint(protocol_record(dfq_profile("quick"), {"observer": "mse"}))  # default
    others = {
        protocol_fingerprint(protocol_record(dfq_profile("quick", finetune_steps=1200), None)),
        protocol_fingerprint(protocol_record(dfq_profile("quick", finetune_lr=3e-4), None)),
        protocol_fingerprint(protocol_record(dfq_profile("smoke"), None)),
        protocol_fingerprint(protocol_record(dfq_profile("quick"), {"observer": "ema"})),
        protocol_fingerprint(protocol_record(dfq_profile("quick", act_scale_lr=1e-3), None)),
        protocol_fingerprint(protocol_record(dfq_profile("quick", freeze_weight_grid=True), None)),
    }
    assert base not in others and len(others) == 6


def test_settings_added_later_keep_the_committed_fingerprints():
    """Every protocol of the committed runs files still fingerprints as recorded there."""
    files = sorted(Path("results/tables").glob("*_runs_protocols.json"))
    assert files
    for path in files:
        for fingerprint, record in json.loads(path.read_text()).items():
            settings = dfq_profile("quick", **record["settings"])
            assert protocol_fingerprint(protocol_record(settings, record["spec"])) == fingerprint, path


def test_a_table_refuses_to_resume_with_other_settings_and_leaves_the_rows_alone(tmp_path):
    net = small_net()
    net(torch.zeros(1, 1, 6, 6))
    table = tmp_path / "t.csv"
    longer = dfq_profile("smoke", finetune_steps=50)
    row = {"method": "GDFQ", "teacher": teacher_fingerprint(net), "w_bits": 4, "a_bits": 4, "seed": 0,
           "protocol": protocol_fingerprint(protocol_record(longer, None))}  # fmt: skip
    write_rows(runs_path(table), [row])
    before = runs_path(table).read_bytes()
    with pytest.raises(ProtocolMismatch, match="different protocol") as err:
        run_table(net, {}, None, dfq_profile("smoke"), table, seeds=1)
    assert row["protocol"] in str(err.value) and "t_runs_protocols.json" in str(err.value)
    assert runs_path(table).read_bytes() == before and not table.exists()
    assert not protocols_path(runs_path(table)).exists()
    assert read_rows(runs_path(table))[0]["protocol"] == row["protocol"]
