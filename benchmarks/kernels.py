r"""The DFQ kernels (``dfq/kernels``) against eager PyTorch and ``torch.compile`` of the reference, on a GPU.

    python benchmarks/kernels.py                    # kernel table (needs CUDA)
    python benchmarks/kernels.py --dfq              # + one whole DFQ run with and without the kernels
    python benchmarks/kernels.py --dfq --cpu-steps  # + the same run's steps on the CPU, for scale

For each kernel (fake quantization per tensor with a learned scale, per channel; BN statistics) and each
size, from a 28-px child's activation to a 224-px MobileNetV2 layer's: the median time of forward and of
forward + backward, and the bandwidth that implies (bytes the op must move at least: fake quantization
reads x and writes y forward, reads x and the gradient and writes one back backward; BN statistics read
x forward, read x and write its gradient backward), as a fraction of the copy bandwidth measured in the
same run (``y.copy_(x)`` on the largest size). Fake quantization is timed alone (backward from a fixed
upstream gradient); the BN statistics with the loss to the running statistics on top (C-sized work).
``--dfq``: GDFQ generator + KD fine-tuning of the default
child at W4A4 (quick profile), with ``dfq.kernels.use("torch")`` against the default (Triton on CUDA).
Writes JSON to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch

from dfq import kernels
from dfq.kernels import reference

DEVICE = "cuda"
SIZES = {  # name: activation shape [N, C, H, W]
    "child 28px (64x96x14x14)": (64, 96, 14, 14),
    "child 28px stem (64x16x28x28)": (64, 16, 28, 28),
    "MobileNetV2 224px (64x32x112x112)": (64, 32, 112, 112),
    "MobileNetV2 224px (64x96x112x112)": (64, 96, 112, 112),
}
WEIGHTS = {  # name: weight shape, per-channel quantization
    "child 1x1 (96x16x1x1)": (96, 16, 1, 1),
    "MobileNetV2 head (1280x320x1x1)": (1280, 320, 1, 1),
    "large (8192x4096)": (8192, 4096),
}


def median_ms(fn, reps: int = 30, warmup: int = 5) -> float:
    """Median wall time of ``fn()`` in ms, by CUDA events, after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def copy_bandwidth() -> float:
    """GB/s of a device-to-device copy of the largest activation (bytes read + written)."""
    x = torch.randn(SIZES["MobileNetV2 224px (64x96x112x112)"], device=DEVICE)
    y = torch.empty_like(x)
    return 2 * x.numel() * 4 / median_ms(lambda: y.copy_(x)) / 1e6


def bn_loss(impl):
    def run(x, rm, rv):
        mean, var = impl(x)
        return torch.linalg.vector_norm(mean - rm) + torch.linalg.vector_norm((var + 1e-5).sqrt() - rv)

    return run


def fq_op(impl, bits):
    def run(x, scale, zp):
        return impl(x, scale, zp, bits)

    return run


def time_op(fn, make_args, grad_of) -> tuple[float, float]:
    """(forward ms, forward + backward ms) of ``fn(*args)``, backward from a fixed upstream gradient into
    the args ``grad_of`` (a loss's scalar, or an output's full-size gradient)."""
    args = make_args()
    with torch.no_grad():
        fwd = median_ms(lambda: fn(*args))
    upstream = torch.randn_like(fn(*args).detach())

    def both():
        for i in grad_of:
            args[i].grad = None
        fn(*args).backward(upstream)

    return fwd, median_ms(both)


def kernel_rows(copy_gbs: float) -> list[dict]:
    rows = []
    compiled = {}

    def variants(kind: str):
        if kind == "bn":
            ref = bn_loss(reference.bn_stats)
            return {"eager": ref, "compile": compiled.setdefault(kind, torch.compile(ref, dynamic=True)),
                    "triton": bn_loss(kernels.IMPLEMENTATIONS["triton"].bn_stats)}  # fmt: skip
        ref = fq_op(reference.fake_quant, 4)
        return {"eager": ref, "compile": compiled.setdefault(kind, torch.compile(ref, dynamic=True)),
                "triton": fq_op(kernels.IMPLEMENTATIONS["triton"].fake_quant, 4)}  # fmt: skip

    cases = []
    for name, shape in SIZES.items():
        n = torch.Size(shape).numel()

        def act(shape=shape):
            x = torch.randn(shape, device=DEVICE, requires_grad=True)
            return [x, torch.tensor(0.1, device=DEVICE, requires_grad=True), torch.tensor(8.0, device=DEVICE)]

        cases.append(("fake-quant per tensor, learned scale", "fq", name, n, act, (0, 1), (2, 3)))

        for layout, memory_format in (
            ("NCHW", torch.contiguous_format),
            ("channels_last", torch.channels_last),
        ):

            def bn(shape=shape, memory_format=memory_format):
                x = torch.randn(shape, device=DEVICE).contiguous(memory_format=memory_format)
                c = shape[1]
                return [x.requires_grad_(), torch.zeros(c, device=DEVICE), torch.ones(c, device=DEVICE)]

            cases.append((f"BN statistics + loss ({layout})", "bn", name, n, bn, (0,), (1, 2)))
    for name, shape in WEIGHTS.items():
        n = torch.Size(shape).numel()

        def weight(shape=shape):
            w = torch.randn(shape, device=DEVICE)
            lo = w.reshape(shape[0], -1).amin(1)
            hi = w.reshape(shape[0], -1).amax(1)
            scale = ((hi - lo) / 15).view(-1, *([1] * (len(shape) - 1)))
            zp = torch.round(-lo / scale.view(-1)).view_as(scale)
            return [w.requires_grad_(), scale, zp]

        cases.append(("fake-quant per channel (weights)", "fq", name, n, weight, (0,), (2, 3)))
    for kernel, kind, name, n, make, grad_of, (fwd_bytes, bwd_bytes) in cases:
        if kind == "bn":
            fwd_bytes, bwd_bytes = 1, 2  # read x; read x and write its gradient
        row = {"kernel": kernel, "size": name, "elements": n}
        for label, fn in variants(kind).items():
            fwd, both = time_op(fn, make, grad_of)
            row[f"{label}_fwd_ms"], row[f"{label}_fwd_bwd_ms"] = round(fwd, 4), round(both, 4)
            moved = (fwd_bytes + bwd_bytes) * 4 * n
            row[f"{label}_fwd_gbs"] = round(fwd_bytes * 4 * n / fwd / 1e6, 1)
            row[f"{label}_fwd_bwd_gbs"] = round(moved / both / 1e6, 1)
        row["triton_fwd_of_copy"] = round(row["triton_fwd_gbs"] / copy_gbs, 3)
        row["triton_fwd_bwd_of_copy"] = round(row["triton_fwd_bwd_gbs"] / copy_gbs, 3)
        row["speedup_vs_eager"] = round(row["eager_fwd_bwd_ms"] / row["triton_fwd_bwd_ms"], 2)
        row["speedup_vs_compile"] = round(row["compile_fwd_bwd_ms"] / row["triton_fwd_bwd_ms"], 2)
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def dfq_run(device: str, kernel_choice: str, generator_steps: int | None = None,
            finetune_steps: int | None = None) -> dict:  # fmt: skip
    """One GDFQ + KD run (default child, W4A4, quick profile unless steps are given), scored on the test
    split when the data is there."""
    from dfq.api import dfq_profile, quantize
    from dfq.quant_model import QuantSpec
    from dfq.sources.gdfq import GeneratorConfig
    from nas.data import load_splits
    from nas.train import load_checkpoint

    teacher, meta = load_checkpoint("results/teachers/default_child.pt")
    teacher = teacher.to(device)
    try:
        splits = load_splits()
    except (OSError, ValueError):
        splits = None
    settings = dfq_profile("quick", generator_steps=generator_steps, finetune_steps=finetune_steps)
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    with kernels.use(kernel_choice):
        _, metrics = quantize(teacher, QuantSpec(4, 4), meta, "gdfq", "kd", settings, seed=0, splits=splits)
    if device == "cuda":
        torch.cuda.synchronize()
    keys = (
        "source_prepare_time_s",
        "calibrate_time_s",
        "finetune_time_s",
        "quant_test_acc",
        "top1_agreement",
    )
    return {"device": device, "kernels": kernel_choice, "wall_s": round(time.perf_counter() - start, 2),
            "generator_steps": settings.config(GeneratorConfig).generator_steps,
            "finetune_steps": settings.finetune_steps, **{k: metrics.get(k) for k in keys}}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dfq", action="store_true", help="also time a whole GDFQ + KD run")
    parser.add_argument("--cpu-steps", action="store_true", help="also time a short run on the CPU")
    parser.add_argument("--dfq-only", action="store_true", help="skip the kernel table")
    parser.add_argument("--choices", default="auto,torch,auto", help="kernel choices of the --dfq runs")
    parser.add_argument("--out", default="benchmarks/out/kernels.json")
    args = parser.parse_args()
    if not torch.cuda.is_available() or "triton" not in kernels.IMPLEMENTATIONS:
        raise SystemExit("benchmarks/kernels.py needs CUDA and Triton")
    facts = {"device": torch.cuda.get_device_name(), "torch": torch.__version__,
             "triton": __import__("triton").__version__, "python": platform.python_version()}  # fmt: skip
    copy_gbs = copy_bandwidth()
    print(json.dumps({**facts, "copy_gbs": round(copy_gbs, 1)}), flush=True)
    result = {**facts, "copy_gbs": round(copy_gbs, 1)}
    if not args.dfq_only:
        result["kernels"] = kernel_rows(copy_gbs)
    if args.dfq:
        result["dfq"] = []
        for choice in args.choices.split(","):  # the default first and last: warm-up effects show
            result["dfq"].append(dfq_run("cuda", choice))
            print(json.dumps(result["dfq"][-1]), flush=True)
    if args.cpu_steps:
        torch.set_num_threads(2)
        result["dfq_cpu_short"] = dfq_run("cpu", "torch", generator_steps=120, finetune_steps=40)
        print(json.dumps(result["dfq_cpu_short"]), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
