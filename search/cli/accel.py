"""Accelerator commands: ``simulate`` and the simulator dataset (``dataset build|refine|extend|disagree``)."""

from __future__ import annotations

import json
import sys

import click

from accel_model.training_tables import COMMON_TABLE, DEFAULT_DATASET, DISAGREEMENT_TABLE, REFINE_TABLE
from search.cli.common import (
    CACHE_OPTION,
    EVALUATOR_OPTION,
    FIXED_INPUT_SIZE_OPTION,
    LPF_OPTION,
    InputError,
    check_table_out,
    input_errors,
    lazy_choice,
    options,
    parse_arch,
    read_json,
    samples_option,
)

NETWORKS_HELP = (
    "Comma-separated common networks whose layers are sampled "
    "(resnet18, mobilenet_v2, resnet20; at the dataset's input sizes)."
)
LOCAL_WORKERS = click.option(
    "--workers", type=click.IntRange(min=1), default=2, show_default=True, help="Local processes."
)

LAYER_SOURCE_OPTIONS = options(
    click.option("--layers", "layers_path", type=str, help="Layers file (JSON list of LayerShape)."),
    click.option("--net", help="Instead of --layers: 'default' or an Arch JSON of the search space."),
    FIXED_INPUT_SIZE_OPTION,
    click.option("--hw", "hw_path", required=True, help="Accelerator JSON (see docs/accelerator-model.md)."),
)


def resolve_layers_and_hw(layers_path, net, input_size, hw_path: str):
    """(layers, accelerator) from ``--layers FILE`` or ``--net ARCH`` at ``input_size`` (an
    ``InputSize``) and ``--hw FILE`` (exit 2 otherwise)."""
    from accel_model.domain import Accelerator, LayerShape
    from accel_model.space import DesignSpace
    from nas.model import child_layer_shapes

    if (layers_path is None) == (net is None):
        raise InputError("give exactly one of --layers FILE or --net default|ARCH.json")
    hw = read_json(hw_path, "--hw")
    with input_errors(f"--hw: {hw_path}"):
        accel = DesignSpace().check(Accelerator.from_dict(hw))
    if net is not None:
        return child_layer_shapes(
            parse_arch(net, "--net"), input_size.hw, in_channels=input_size.channels
        ), accel
    data = read_json(layers_path, "--layers")
    if not isinstance(data, list) or not data:
        raise InputError(f"--layers: {layers_path} must hold a non-empty JSON list of layers")
    with input_errors(f"--layers: {layers_path}"):
        return [LayerShape.from_dict(item) for item in data], accel


def register(main: click.Group) -> None:
    main.add_command(simulate)
    main.add_command(dataset)


@click.command()
@LAYER_SOURCE_OPTIONS
@click.option(
    "--backend",
    type=lazy_choice("accel_model.simulators", "BACKENDS"),
    default="zigzag",
    show_default=True,
    help="Simulator backend.",
)
@LPF_OPTION
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Processes simulating layers in parallel.")  # fmt: skip
@CACHE_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the cost JSON (per layer and total).")
def simulate(layers_path, net, input_size, hw_path, backend, lpf_limit, workers, cache, as_json):
    """Simulate layers on an accelerator with the real simulator; print per-layer and total cost."""
    from accel_model.cost_report import cost_json, cost_table
    from accel_model.sweep import sweep

    layers, accel = resolve_layers_and_hw(layers_path, net, input_size, hw_path)
    settings = {} if lpf_limit is None else {"lpf_limit": lpf_limit}
    progress = not as_json and sys.stderr.isatty()
    report = sweep([(layer, accel) for layer in layers], backend, settings, cache, workers, progress=progress)
    failed = [(i, r.error) for i, r in enumerate(report.records) if r.status != "ok"]
    if failed:
        click.echo(f"error: simulation failed for layer {failed[0][0]}: {failed[0][1]}", err=True)
        sys.exit(1)
    result = cost_json([r.cost for r in report.records], accel)
    click.echo(json.dumps(result, indent=1) if as_json else cost_table(layers, result))


@click.group()
def dataset():
    """The simulator dataset the evaluator network learns from."""


def _wrote(out: str, prov: dict) -> None:
    click.echo(f"wrote {out}: {prov['rows']} rows ({prov['ok']} ok, {prov['failed']} failed)")


@dataset.command("build")
@samples_option(20000)
@LOCAL_WORKERS
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the pair sampling.")
@click.option("--out", type=click.Path(dir_okay=False), default=str(DEFAULT_DATASET), show_default=True,
              help="Output table (.csv.gz); a .provenance.json is written beside it.")  # fmt: skip
@click.option(
    "--scheduler", default=None, help="Dask scheduler address tcp://host:port (default: local pool)."
)
@CACHE_OPTION
@LPF_OPTION
def dataset_build(samples, workers, seed, out, scheduler, cache, lpf_limit):
    """Simulate sampled accelerators x layers (search space + common CNNs); resumes via the cache."""
    from search.extensions import build_uniform

    check_table_out(out)
    prov = build_uniform(out, samples, seed, workers, lpf_limit, cache, scheduler)
    click.echo(
        f"wrote {out}: {prov['rows']} rows ({prov['ok']} ok, {prov['failed']} failed), "
        f"{prov['simulated_this_run']} simulated in this run"
    )


@dataset.command("refine")
@click.option("--evaluator", "evaluator_path", default=None, help="Evaluator file (default: committed).")
@click.option("--archs", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--top-k", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--seed", type=int, default=11, show_default=True, help="Seed of the random archs.")
@LOCAL_WORKERS
@click.option("--out", default=str(REFINE_TABLE), show_default=True)
def dataset_refine(evaluator_path, archs, top_k, seed, workers, out):
    """Simulate the evaluator's top accelerators for random archs (edap, latency, energy) with every
    candidate layer: a targeted extension of the dataset (held-out report accelerators excluded)."""
    from accel_model.evaluator import DEFAULT_EVALUATOR, load_evaluator
    from search.extensions import plan_refine

    check_table_out(out)
    with input_errors("--evaluator"):
        evaluator = load_evaluator(evaluator_path or DEFAULT_EVALUATOR)
    _wrote(out, plan_refine(evaluator, archs, top_k, seed, workers, out).run())


@dataset.command("extend")
@click.option("--networks", default="resnet18", show_default=True, help=NETWORKS_HELP)
@samples_option(2000)
@click.option("--seed", type=int, default=21, show_default=True, help="Seed of the pair sampling.")
@LOCAL_WORKERS
@click.option("--out", default=str(COMMON_TABLE), show_default=True)
@CACHE_OPTION
def dataset_extend(networks, samples, seed, workers, out, cache):
    """Simulate more uniform accelerators for the layers of common CNNs (ImageNet-sized layers are
    the sparsest part of the uniform sample); resumes via the cache, held-out accelerators excluded."""
    from search.extensions import plan_extend
    from search.heldout import select_common_networks

    with input_errors("--networks"):
        named = select_common_networks(networks)
    check_table_out(out)
    _wrote(out, plan_extend(named, samples, seed, workers, out, cache).run())


@dataset.command("disagree")
@EVALUATOR_OPTION
@click.option("--networks", default="resnet18,mobilenet_v2,resnet20", show_default=True, help=NETWORKS_HELP)
@samples_option(4000)
@click.option("--top-fraction", type=click.FloatRange(0, 1, min_open=True), default=0.05, show_default=True,
              help="Per layer, the share of the space drawn from (most disputed first).")  # fmt: skip
@click.option("--seed", type=int, default=31, show_default=True, help="Seed of the pair sampling.")
@LOCAL_WORKERS
@click.option("--out", default=str(DISAGREEMENT_TABLE), show_default=True)
@CACHE_OPTION
def dataset_disagree(evaluator_path, networks, samples, top_fraction, seed, workers, out, cache):
    """Simulate the (layer, accelerator) pairs of common CNNs on which the evaluator's ensemble members
    disagree most (query by committee: where ZigZag's mapping jumps and the rows are thin); resumes via
    the cache, held-out accelerators excluded. The provenance records the evaluator's SHA-256."""
    from search.extensions import load_ensemble, plan_disagree
    from search.heldout import select_common_networks

    with input_errors("--networks"):
        named = select_common_networks(networks)
    check_table_out(out)
    with input_errors("--evaluator"):
        evaluator = load_ensemble(evaluator_path)
    with input_errors("--samples"):
        plan = plan_disagree(
            evaluator, evaluator_path, named, samples, top_fraction, seed, workers, out, cache
        )
    _wrote(out, plan.run())
