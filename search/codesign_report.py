"""``report.md`` of a codesign run folder, and ``designs.png``: what a person opens first."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

FILES = (  # (file, what it is)
    ("accelerator.json", "the accelerator (coexplore's JSON)"),
    ("accelerator.zigzag.yaml", "ZigZag hardware; with workload.zigzag.yaml and mapping.zigzag.yaml ZigZag's "
     "API simulates the network (`accel_model.export.zigzag_files.simulate_files`)"),
    ("accelerator.timeloop.yaml", "Timeloop/Accelergy v0.3 architecture and the dataflow's constraints"),
    ("model.onnx", "the quantized network: QDQ ONNX, integer weights at the accelerator's bits"),
    ("quantized/quantized.pt", "the quantized network for coexplore (`coexplore export model`)"),
    ("quantized/quantized.int.pt", "the same as integer codes and scales (`dfq.pipeline.load_quantized`)"),
    ("search/model.pt", "the full-precision child, retrained"),
    ("search/metrics.json", "the search's facts: settings, costs predicted and simulated, constraints"),
    ("search/trajectory.csv", "one row per search epoch: the derived design and its predicted cost"),
)  # fmt: skip
COSTS = (("latency (ms)", "latency_ms", "{:.4f}"), ("frames/s", "fps", "{:,.0f}"),
         ("energy (uJ)", "energy_uj", "{:.3f}"), ("area (mm2)", "area_mm2", "{:.3f}"),
         ("EDAP", "edap", "{:.4g}"))  # fmt: skip


def _rows(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def designs_plot(trajectory: Path, png: Path) -> None:
    """The derived design of every search epoch: supernet validation accuracy against predicted latency
    and energy (warm-up epochs apart)."""
    rows = _rows(trajectory)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, key, label, scale in ((axes[0], "pred_latency_cycles", "predicted latency (Mcycles)", 1e6),
                                  (axes[1], "pred_energy_pj", "predicted energy (uJ)", 1e6)):  # fmt: skip
        for phase, marker in (("warmup", "x"), ("search", "o")):
            part = [r for r in rows if r["phase"] == phase]
            xs = [float(r[key]) / scale for r in part]
            ax.scatter(xs, [100 * float(r["val_acc_supernet"]) for r in part], marker=marker, label=phase)
        for r in rows:
            ax.annotate(r["epoch"], (float(r[key]) / scale, 100 * float(r["val_acc_supernet"])), fontsize=7)
        ax.set_xlabel(label)
        ax.set_ylabel("supernet val accuracy (%)")
        ax.grid(alpha=0.3)
    axes[0].legend(loc="best")
    fig.suptitle("designs the search visited (one per epoch, numbered)")
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)


def report_markdown(out: Path, config: dict) -> str:
    search = json.loads((out / "search" / "metrics.json").read_text())
    quant = json.loads((out / "quantized" / "metrics.json").read_text())
    markers = [json.loads(p.read_text()) for p in (out / ".stages").glob("*.json")]
    stages = {m["stage"]: m["seconds"] for m in sorted(markers, key=lambda m: m["finished"])}  # run order
    accel = search["accelerator"]
    status = search.get("constraint_status", "unconstrained")
    lines = ["# Co-design report", "", f"Command settings: `{json.dumps(config, sort_keys=True)}`", "",
             "## Target", ""]  # fmt: skip
    for check in search.get("constraints", []):
        verdict = "**met**" if check["met"] else "**MISSED**"
        lines.append(f"- {check['constraint']}: {verdict} per ZigZag (simulated {check['simulated']:.4g})")
    lines.append(f"- outcome: `{status}` (final: the search's last design; fallback: the best verified "
                 "design it visited; infeasible: none met the target)")  # fmt: skip
    lines += ["", "## Design", "", f"- network ops: `{','.join(search['arch']['ops'])}`",
              f"- accelerator: {accel['pe_rows']}x{accel['pe_cols']} PEs, {accel['dataflow']}, "
              f"{accel['bits']}-bit, register file {accel['rf_bytes']} B, global buffer "
              f"{accel['glb_kib']} KiB, {accel['clock_mhz']} MHz",
              f"- accuracy (Fashion-MNIST test): full precision {100 * search['test_acc']:.2f}%; quantized "
              f"W{quant['w_bits']}A{quant['a_bits']} data-free ({quant['method']}) "
              f"**{100 * quant['quant_test_acc']:.2f}%** (top-1 agreement with full precision "
              f"{100 * quant['top1_agreement']:.2f}%)", "",
              "| cost | predicted (evaluator) | simulated (ZigZag) |", "|---|---|---|"]  # fmt: skip
    lines += [f"| {label} | {fmt.format(search['predicted'][key])} | {fmt.format(search['simulated'][key])} |"
              for label, key, fmt in COSTS]  # fmt: skip
    lines += ["", "## The search", "", "![trajectory](search/trajectory.png)", "",
              "![designs visited](designs.png)", "", "## Files", ""]  # fmt: skip
    lines += [f"- [`{name}`]({name}): {what}" for name, what in FILES if (out / name).is_file()]
    lines += ["", "## Time", ""]
    lines += [f"- {stage}: {seconds:.0f} s" for stage, seconds in stages.items()]
    return "\n".join(lines) + "\n"
