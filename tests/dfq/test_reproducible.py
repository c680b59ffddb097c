"""Same seed, same numbers: one small DFQ cell run twice in separate processes (different hash seeds, as
two shells would have) gives identical results and an identical student."""

import hashlib
import json
import os
import subprocess
import sys

from dfq.pipeline import load_quantized


def _quantize(out, hash_seed: str) -> dict:
    cmd = [sys.executable, "-m", "search.cli", "quantize",
           "--checkpoint", "results/teachers/default_child.pt", "--source", "gdfq", "--profile", "smoke",
           "--w-bits", "4", "--a-bits", "4", "--seed", "0",
           "--threads", "2", "--out", str(out), "--quiet"]  # fmt: skip
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    student, _ = load_quantized(out / "quantized.pt")
    digest = hashlib.sha256()
    for name, tensor in sorted(student.state_dict().items()):
        digest.update(name.encode() + tensor.detach().contiguous().numpy().tobytes())
    metrics["student_sha256"] = digest.hexdigest()
    return metrics


def test_a_dfq_cell_gives_identical_numbers_in_two_processes(tmp_path, fashion_mnist):
    first, second = _quantize(tmp_path / "a", "1"), _quantize(tmp_path / "b", "2")
    for key in ("quant_test_acc", "top1_agreement", "finetune_loss_last"):
        assert first[key] == second[key], key
    assert first["student_sha256"] == second["student_sha256"]
