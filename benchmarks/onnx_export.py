r"""The exported QDQ ONNX model against the PyTorch student on the whole Fashion-MNIST test set.

    .venv/bin/python benchmarks/onnx_export.py [--source zeroq --finetune none --profile smoke]

For W4A4, W4A8 and W8A8 students of the committed default child (first conv and classifier at 8 bits):
test accuracy of the student and of onnxruntime (CPU, default optimizations) on the same 10,000 images,
top-1 agreement, the largest logit difference and the file size. JSON to benchmarks/out/onnx_export.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from dfq.api import dfq_profile, quantize
from dfq.onnx_export import save_onnx, to_onnx
from dfq.quant_model import QuantSpec
from nas.data import iterate_batches, load_splits
from nas.train import load_checkpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default="zeroq")
    parser.add_argument("--finetune", default="none")
    parser.add_argument("--profile", default="smoke")
    parser.add_argument("--out", default="benchmarks/out/onnx_export.json")
    args = parser.parse_args()
    torch.set_num_threads(2)
    teacher, meta = load_checkpoint("results/teachers/default_child.pt")
    splits = load_splits()
    rows = []
    for w_bits, a_bits in ((4, 4), (4, 8), (8, 8)):
        student, _ = quantize(teacher, QuantSpec(w_bits, a_bits), meta, args.source, args.finetune,
                              dfq_profile(args.profile))  # fmt: skip
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            path = save_onnx(to_onnx(student, (1, 28, 28)), Path(tmp) / "m.onnx")
            export_s = time.perf_counter() - start
            session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
            size = path.stat().st_size
            correct_pt = correct_ort = agree = 0
            max_diff = 0.0
            for xb, yb in iterate_batches(splits.x_test, splits.y_test, 1000, meta["mean"], meta["std"],
                                          channels_last=False):  # fmt: skip
                with torch.no_grad():
                    ref = student(xb).numpy()
                out = session.run(None, {"images": xb.numpy()})[0]
                labels = yb.numpy()
                correct_pt += int((ref.argmax(1) == labels).sum())
                correct_ort += int((out.argmax(1) == labels).sum())
                agree += int((ref.argmax(1) == out.argmax(1)).sum())
                max_diff = max(max_diff, float(np.abs(ref - out).max()))
        n = len(splits.y_test)
        row = {"bits": f"W{w_bits}A{a_bits}", "student_acc": 100 * correct_pt / n,
               "onnx_acc": 100 * correct_ort / n, "agreement": 100 * agree / n,
               "max_logit_diff": round(max_diff, 4), "bytes": size,
               "export_s": round(export_s, 2)}  # fmt: skip
        rows.append(row)
        print(json.dumps(row), flush=True)
    result = {"source": args.source, "finetune": args.finetune, "profile": args.profile,
              "onnxruntime": ort.__version__, "rows": rows}  # fmt: skip
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
