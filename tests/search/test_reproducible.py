"""Same seed, same numbers: one smoke search (search, derive, retrain, simulate, quantize) run twice in
separate processes with different hash seeds gives the same design and identical accuracies."""

import json
import os
import subprocess
import sys

import pytest


def _search(out, hash_seed: str) -> dict:
    cmd = [sys.executable, "-m", "search.cli", "search", "--profile", "smoke", "--seed", "0",
           "--out", str(out), "--quiet"]  # fmt: skip
    env = {**os.environ, "PYTHONHASHSEED": hash_seed, "OMP_NUM_THREADS": "2"}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    return json.loads((out / "metrics.json").read_text())


@pytest.mark.slow
def test_a_short_search_gives_identical_numbers_in_two_processes(tmp_path, fashion_mnist):
    first, second = _search(tmp_path / "a", "1"), _search(tmp_path / "b", "2")
    for key in ("arch", "accelerator", "bits", "val_acc", "test_acc", "acc_q", "acc_q_val", "predicted"):
        assert first[key] == second[key], key
