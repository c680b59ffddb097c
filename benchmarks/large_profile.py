r"""What the ``large`` DFQ profile costs at 224 px on this machine: a MobileNetV2 (the zoo's, 3.5M
parameters, 53 convolutions, 1,000 classes, random weights: the time does not depend on them) saved as a
module and quantized from the command line as a user's own model would be, W4A8, ZeroQ images and
layer-wise reconstruction, the profile chosen from the input size.

    .venv/bin/python benchmarks/large_profile.py --threads 2

Writes benchmarks/out/large_profile_t<threads>.json (the wall-clock of the command and of each phase
from its metrics.json) and prints it.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from nas.zoo import build_zoo_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--finetune", default="reconstruct")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        torch.manual_seed(0)
        model_file = Path(tmp) / "mobilenet_v2.pt"
        torch.save(build_zoo_model("mobilenet_v2", 3, 1000).eval(), model_file)
        out = Path(tmp) / "q"
        command = [sys.executable, "-m", "search.cli", "quantize", "--model", str(model_file),
                   "--input-size", "3x224x224", "--source", "zeroq", "--finetune", args.finetune,
                   "--w-bits", "4", "--a-bits", "8", "--threads", str(args.threads),
                   "--out", str(out)]  # fmt: skip
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        wall = time.perf_counter() - start
        if done.returncode:
            sys.exit(f"quantize failed ({done.returncode}): {done.stderr.strip().splitlines()[-1]}")
        metrics = json.loads((out / "metrics.json").read_text())
    chosen = next(line for line in done.stderr.splitlines() if line.startswith("profile:"))
    record = {
        "model": "mobilenet_v2 (zoo), 3x224x224, 1000 classes, 3.5M parameters",
        "command": " ".join(["coexplore", *command[3:]]),
        "chosen": chosen,
        "threads": args.threads,
        "wall_s": round(wall, 1),
        **{k: round(metrics[k], 1) for k in ("source_prepare_time_s", "calibrate_time_s", "finetune_time_s")},
    }
    path = Path("benchmarks/out") / f"large_profile_t{args.threads}.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
