"""Accelerator commands: ``simulate`` and ``dataset build``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from accel_model.domain import Accelerator, Cost, LayerShape
from accel_model.space import DesignSpace
from nas.space import SearchSpace
from search.cli_dataset import DEFAULT_DATASET, register_dataset_extensions, samples_option
from search.cli_util import InputError, bad_input_is_exit_2, parse_arch


def read_json(path: str, what: str):
    with bad_input_is_exit_2(what):
        try:
            return json.loads(Path(path).read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: invalid JSON ({exc.msg} at line {exc.lineno})") from None


def load_layers(path: str) -> list[LayerShape]:
    data = read_json(path, "--layers")
    if not isinstance(data, list) or not data:
        raise InputError(f"--layers: {path} must hold a non-empty JSON list of layers")
    with bad_input_is_exit_2(f"--layers: {path}"):
        return [LayerShape.from_dict(item) for item in data]


def load_accelerator(path: str, space: DesignSpace) -> Accelerator:
    with bad_input_is_exit_2(f"--hw: {path}"):
        return space.check(Accelerator.from_dict(read_json(path, "--hw")))


def cost_json(costs: list[Cost], accel: Accelerator) -> dict:
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


def print_cost_table(layers: list[LayerShape], result: dict) -> None:
    click.echo(f"{'#':>3} {'layer':<38} {'cycles':>12} {'energy uJ':>10}")
    for i, (layer, cost) in enumerate(zip(layers, result["layers"], strict=True)):
        desc = (
            f"{layer.in_channels}->{layer.out_channels} k{layer.kernel[0]}x{layer.kernel[1]} s{layer.stride} "
            f"g{layer.groups} @{layer.in_hw[0]}x{layer.in_hw[1]}"
        )
        click.echo(f"{i:>3} {desc:<38} {cost['latency_cycles']:>12.0f} {cost['energy_pj'] / 1e6:>10.3f}")
    t = result["total"]
    click.echo(
        f"total: {t['latency_cycles']:.0f} cycles = {t['latency_cycles'] / t['clock_mhz'] / 1e3:.3f} ms "
        f"({t['fps']:.1f} fps at {t['clock_mhz']} MHz), {t['energy_pj'] / 1e6:.3f} uJ, "
        f"{t['area_mm2']:.3f} mm^2"
    )


def layer_source_options(command):
    """--layers | --net (+ --image-size) and --hw, shared by simulate and predict."""
    for option in reversed((
        click.option("--layers", "layers_path", type=str, help="Layers file (JSON list of LayerShape)."),
        click.option("--net", help="Instead of --layers: 'default' or an Arch JSON of the search space."),
        click.option("--image-size", type=click.IntRange(min=1), default=28, show_default=True,
                     help="Input pixels, for --net."),
        click.option("--hw", "hw_path", required=True, help="Accelerator JSON (DESIGN.md format)."),
    )):  # fmt: skip
        command = option(command)
    return command


def resolve_layers_and_hw(layers_path, net, image_size: int, hw_path: str):
    from nas.model import build_child

    if (layers_path is None) == (net is None):
        raise InputError("give exactly one of --layers FILE or --net default|ARCH.json")
    accel = load_accelerator(hw_path, DesignSpace())
    if net is not None:
        space = SearchSpace()
        return build_child(space, parse_arch(net, space)).layer_shapes(image_size), accel
    return load_layers(layers_path), accel


def register(main: click.Group) -> None:
    @main.command()
    @layer_source_options
    @click.option("--backend", default="zigzag", show_default=True, help="Simulator backend.")
    @click.option("--lpf-limit", type=click.IntRange(1, 12), default=None, help="ZigZag LOMA lpf_limit.")
    @click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
                  help="Processes simulating layers in parallel.")  # fmt: skip
    @click.option(
        "--cache",
        type=click.Path(dir_okay=False),
        default=None,
        help="SQLite cache file (default: $COEXPLORE_HOME/sim_cache.sqlite).",
    )
    @click.option("--json", "as_json", is_flag=True, help="Print the cost JSON (per layer and total).")
    def simulate(layers_path, net, image_size, hw_path, backend, lpf_limit, workers, cache, as_json):
        """Simulate layers on an accelerator with the real simulator; print per-layer and total cost."""
        from accel_model.simulators import BACKENDS
        from accel_model.sweep import sweep

        if backend not in BACKENDS:
            raise InputError(f"--backend: unknown backend {backend!r}; allowed: {sorted(BACKENDS)}")
        layers, accel = resolve_layers_and_hw(layers_path, net, image_size, hw_path)
        settings = {} if lpf_limit is None else {"lpf_limit": lpf_limit}
        report = sweep(
            [(layer, accel) for layer in layers],
            backend,
            settings,
            cache,
            workers,
            progress=not as_json and sys.stderr.isatty(),
        )
        failed = [(i, r.error) for i, r in enumerate(report.records) if r.status != "ok"]
        if failed:
            click.echo(f"error: simulation failed for layer {failed[0][0]}: {failed[0][1]}", err=True)
            sys.exit(1)
        result = cost_json([r.cost for r in report.records], accel)
        if as_json:
            click.echo(json.dumps(result, indent=1))
        else:
            print_cost_table(layers, result)

    @main.group()
    def dataset():
        """The simulator dataset the evaluator network learns from."""

    register_dataset_extensions(dataset)

    @dataset.command("build")
    @samples_option(20000)
    @click.option(
        "--workers", type=click.IntRange(min=1), default=2, show_default=True, help="Local processes."
    )
    @click.option("--seed", type=int, default=0, show_default=True, help="Seed of the pair sampling.")
    @click.option(
        "--out",
        type=click.Path(dir_okay=False),
        default=str(DEFAULT_DATASET),
        show_default=True,
        help="Output table (.csv.gz); a .provenance.json is written beside it.",
    )
    @click.option(
        "--scheduler", default=None, help="Dask scheduler address tcp://host:port (default: local pool)."
    )
    @click.option("--cache", type=click.Path(dir_okay=False), default=None, help="SQLite cache file.")
    @click.option("--lpf-limit", type=click.IntRange(1, 12), default=None, help="ZigZag LOMA lpf_limit.")
    def dataset_build(samples, workers, seed, out, scheduler, cache, lpf_limit):
        """Simulate sampled accelerators x layers (search space + common CNNs); resumes via the cache."""
        from accel_model.dataset import build_dataset
        from search.heldout import dataset_search_space_layers

        if not str(out).endswith((".csv", ".csv.gz")):
            raise InputError(f"--out: {out} must end in .csv or .csv.gz")
        layers = dataset_search_space_layers()
        settings = {} if lpf_limit is None else {"lpf_limit": lpf_limit}
        command = f"coexplore dataset build --samples {samples} --seed {seed}" + (
            f" --lpf-limit {lpf_limit}" if lpf_limit else ""
        )
        prov = build_dataset(out, layers, samples, seed, workers, settings, cache, scheduler, command=command)
        click.echo(
            f"wrote {out}: {prov['rows']} rows ({prov['ok']} ok, {prov['failed']} failed), "
            f"{prov['simulated_this_run']} simulated in this run"
        )
