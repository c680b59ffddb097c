"""The cost of a network on an accelerator as the commands print it: the cost JSON of the design brief
(per layer and total) and a text table of it. Shared by the simulator and the evaluator's predictions."""

from __future__ import annotations

from accel_model.domain import Accelerator, Cost, LayerShape


def cost_json(costs: list[Cost], accel: Accelerator) -> dict:
    """``{"layers": [{latency_cycles, energy_pj}, ...], "total": {..., area_mm2, fps, clock_mhz}}``."""
    total = sum(costs[1:], costs[0])
    return {
        "layers": [{"latency_cycles": c.latency_cycles, "energy_pj": c.energy_pj} for c in costs],
        "total": {
            "latency_cycles": total.latency_cycles,
            "energy_pj": total.energy_pj,
            "area_mm2": total.area_mm2,
            "fps": total.fps,
            "clock_mhz": accel.clock_mhz,
        },
    }


def cost_table(layers: list[LayerShape], result: dict) -> str:
    """``cost_json``'s result as a text table: one line per layer, then the total."""
    lines = [f"{'#':>3} {'layer':<38} {'cycles':>12} {'energy uJ':>10}"]
    for i, (layer, cost) in enumerate(zip(layers, result["layers"], strict=True)):
        desc = (
            f"{layer.in_channels}->{layer.out_channels} k{layer.kernel[0]}x{layer.kernel[1]} s{layer.stride} "
            f"g{layer.groups} @{layer.in_hw[0]}x{layer.in_hw[1]}"
        )
        lines.append(f"{i:>3} {desc:<38} {cost['latency_cycles']:>12.0f} {cost['energy_pj'] / 1e6:>10.3f}")
    t = result["total"]
    lines.append(
        f"total: {t['latency_cycles']:.0f} cycles = {t['latency_cycles'] / t['clock_mhz'] / 1e3:.3f} ms "
        f"({t['fps']:.1f} fps at {t['clock_mhz']} MHz), {t['energy_pj'] / 1e6:.3f} uJ, "
        f"{t['area_mm2']:.3f} mm^2"
    )
    return "\n".join(lines)
