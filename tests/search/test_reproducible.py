"""Same seed, same numbers: one smoke search (search, derive, retrain, simulate, quantize) on a slice of
Fashion-MNIST, run twice in separate processes with different hash seeds, gives the same design and
identical accuracies."""

import json
import os
import subprocess
import sys

import numpy as np


def _slice(fashion_mnist, path):
    ds = fashion_mnist
    np.savez(path, x_train=ds.x_train[:3000].numpy(), y_train=ds.y_train[:3000].numpy(),
             x_test=ds.x_test[:300].numpy(), y_test=ds.y_test[:300].numpy(), hflip=1)  # fmt: skip
    return path


def _search(data, out, hash_seed: str) -> dict:
    cmd = [sys.executable, "-m", "search.cli", "search", "--profile", "smoke", "--seed", "0",
           "--data-dir", str(data), "--out", str(out), "--quiet"]  # fmt: skip
    env = {**os.environ, "PYTHONHASHSEED": hash_seed, "OMP_NUM_THREADS": "2"}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    return json.loads((out / "metrics.json").read_text())


def test_a_short_search_gives_identical_numbers_in_two_processes(tmp_path, fashion_mnist):
    data = _slice(fashion_mnist, tmp_path / "fashion_slice.npz")
    first, second = _search(data, tmp_path / "a", "1"), _search(data, tmp_path / "b", "2")
    for key in ("arch", "accelerator", "bits", "val_acc", "acc_fp", "acc_q", "acc_q_val", "predicted"):
        assert first[key] == second[key], key
    assert first["acc_fp"] > 0.4  # a real slice: the child learns something, the numbers are not chance
