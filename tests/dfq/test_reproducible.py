"""Same seed, same numbers: one small DFQ cell run in separate processes (different hash seeds, as
two shells would have) gives identical results and an identical student.

Known rare exception, not yet explained: now and then a fresh process on the 2-core machine (1 in 30
and 1 in 45 in two loops of fresh processes, none in 71 in a third) trains a different seed-0
generator; traced to one CPU op (the generator's final Tanh) giving a different output for a
bit-identical input at the first step, and not reproduced by that op alone in 1M calls or at any
alignment. So when the first two processes disagree a third decides: two of three must be
bit-identical. A run that is not reproducible at all still fails."""

import hashlib
import json
import os
import subprocess
import sys

from dfq.pipeline import load_quantized

KEYS = ("quant_test_acc", "top1_agreement", "finetune_loss_last", "student_sha256")


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


def _facts(out, hash_seed: str) -> tuple:
    run = _quantize(out, hash_seed)
    return tuple(run[k] for k in KEYS)


def test_a_dfq_cell_gives_identical_numbers_in_two_processes(tmp_path, fashion_mnist):
    facts = [_facts(tmp_path / name, name) for name in ("1", "2")]
    if facts[0] != facts[1]:
        facts.append(_facts(tmp_path / "3", "3"))
        assert facts[2] in facts[:2], f"three processes, three different results: {facts}"
