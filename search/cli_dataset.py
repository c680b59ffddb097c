"""Targeted extensions of the simulator dataset: ``dataset refine``, ``extend`` and ``disagree``.

All three leave out the accelerators of the held-out report (``coexplore evaluator report``), so that test
stays unseen; ``coexplore evaluator train`` reads their tables beside the uniform sample."""

from __future__ import annotations

from pathlib import Path

import click

from accel_model.paths import PACKAGE_DATA
from search.cli_util import InputError, bad_input_is_exit_2

DEFAULT_DATASET = PACKAGE_DATA / "zigzag_dataset.csv.gz"
REFINE_TABLE = PACKAGE_DATA / "zigzag_refine.csv.gz"
COMMON_TABLE = PACKAGE_DATA / "zigzag_common.csv.gz"
MOBILENET_RESNET20_TABLE = PACKAGE_DATA / "zigzag_mobilenet_resnet20.csv.gz"
DISAGREEMENT_TABLE = PACKAGE_DATA / "zigzag_disagreement.csv.gz"
DISAGREEMENT_RESNET18_TABLE = PACKAGE_DATA / "zigzag_disagreement_resnet18.csv.gz"  # the second round
# What `coexplore evaluator train` reads by default: the uniform sample and its targeted extensions.
TRAINING_TABLES = (DEFAULT_DATASET, REFINE_TABLE, COMMON_TABLE, MOBILENET_RESNET20_TABLE, DISAGREEMENT_TABLE,
                   DISAGREEMENT_RESNET18_TABLE)  # fmt: skip
NETWORKS_HELP = ("Comma-separated common networks whose layers are sampled "
                 "(resnet18, mobilenet_v2, resnet20; at the dataset's input sizes).")  # fmt: skip


def samples_option(default: int):
    """``--samples`` of the sampled tables (``dataset build`` / ``extend``)."""
    return click.option(
        "--samples",
        type=click.IntRange(min=1),
        default=default,
        show_default=True,
        help="(layer, accelerator) pairs; a larger N extends a smaller one with the same seed.",
    )


def _heldout_accelerators():
    """The held-out report's first RESERVED_ACCELS accelerators (drawn, as the report does, outside
    every training table; tables built without them leave that draw as it is)."""
    from search.heldout import HELDOUT_SEED, RESERVED_ACCELS, heldout_setup, tables_accelerators

    extensions = [path for path in TRAINING_TABLES if path != DEFAULT_DATASET and path.exists()]
    trained = tables_accelerators(extensions)  # heldout_setup skips the uniform table's itself
    _, heldout = heldout_setup(str(DEFAULT_DATASET), RESERVED_ACCELS, 1, HELDOUT_SEED, trained)
    excluded = (f"the {RESERVED_ACCELS} held-out accelerators of `coexplore evaluator report --accels "
                f"{RESERVED_ACCELS}` (seed {HELDOUT_SEED})")  # fmt: skip
    return heldout, excluded


def _common_networks(networks: str) -> list[tuple[str, int]]:
    """``--networks`` as (name, input pixels) of ``COMMON_NETWORKS``."""
    from accel_model.dataset import COMMON_NETWORKS

    sizes = dict(COMMON_NETWORKS)
    names = [n.strip() for n in networks.split(",") if n.strip()]
    unknown = [n for n in names if n not in sizes]
    if unknown or not names:
        raise InputError(f"--networks: unknown network {unknown[0] if unknown else networks!r}; "
                         f"choose from {', '.join(sizes)}")  # fmt: skip
    return [(n, sizes[n]) for n in names]


def _table_out(out: str, default: Path, command: str) -> str:
    """Check ``--out`` and return the rebuild ``command`` naming it where it is not the default."""
    if not str(out).endswith((".csv", ".csv.gz")):
        raise InputError(f"--out: {out} must end in .csv or .csv.gz")
    return command if Path(out).resolve() == default.resolve() else f"{command} --out {out}"


def register_dataset_extensions(dataset: click.Group) -> None:
    @dataset.command("refine")
    @click.option("--evaluator", "evaluator_path", default=None, help="Evaluator file (default: committed).")
    @click.option("--archs", type=click.IntRange(min=1), default=10, show_default=True)
    @click.option("--top-k", type=click.IntRange(min=1), default=10, show_default=True)
    @click.option("--seed", type=int, default=11, show_default=True, help="Seed of the random archs.")
    @click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True)
    @click.option("--out", default=str(REFINE_TABLE), show_default=True)
    def dataset_refine(evaluator_path, archs, top_k, seed, workers, out):
        """Simulate the evaluator's top accelerators for random archs (edap, latency, energy) with every
        candidate layer: a targeted extension of the dataset (held-out report accelerators excluded)."""
        from accel_model.dataset import simulate_table
        from accel_model.evaluator import DEFAULT_EVALUATOR, load_evaluator
        from search.refine import refinement_pairs

        with bad_input_is_exit_2("--evaluator"):
            evaluator = load_evaluator(evaluator_path or DEFAULT_EVALUATOR)
        heldout, excluded = _heldout_accelerators()
        pairs = refinement_pairs(evaluator, archs, top_k, seed, exclude=heldout)
        command = f"coexplore dataset refine --archs {archs} --top-k {top_k} --seed {seed}"
        meta = {"kind": "evaluator top-k refinement", "archs": archs, "top_k": top_k, "seed": seed,
                "excluded": excluded, "rebuild": command}  # fmt: skip
        prov = simulate_table(out, pairs, meta, workers)
        click.echo(f"wrote {out}: {prov['rows']} rows ({prov['ok']} ok, {prov['failed']} failed)")

    @dataset.command("extend")
    @click.option("--networks", default="resnet18", show_default=True, help=NETWORKS_HELP)
    @samples_option(2000)
    @click.option("--seed", type=int, default=21, show_default=True, help="Seed of the pair sampling.")
    @click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True)
    @click.option("--out", default=str(COMMON_TABLE), show_default=True)
    @click.option("--cache", type=click.Path(dir_okay=False), default=None, help="SQLite cache file.")
    def dataset_extend(networks, samples, seed, workers, out, cache):
        """Simulate more uniform accelerators for the layers of common CNNs (ImageNet-sized layers are
        the sparsest part of the uniform sample); resumes via the cache, held-out accelerators excluded."""
        from accel_model.dataset import network_pairs, simulate_table
        from accel_model.space import DesignSpace

        named = _common_networks(networks)
        names = ",".join(n for n, _ in named)
        rebuild = f"coexplore dataset extend --networks {names} --samples {samples} --seed {seed}"
        command = _table_out(out, COMMON_TABLE, rebuild)
        heldout, excluded = _heldout_accelerators()
        pairs = network_pairs(named, samples, seed, DesignSpace(), heldout)
        meta = {"kind": "common-network extension", "networks": [f"{n}@{hw}px" for n, hw in named],
                "samples": samples, "seed": seed, "excluded": excluded, "rebuild": command}  # fmt: skip
        prov = simulate_table(out, pairs, meta, workers, cache=cache, checkpoint_every=100)
        click.echo(f"wrote {out}: {prov['rows']} rows ({prov['ok']} ok, {prov['failed']} failed)")

    @dataset.command("disagree")
    @click.option("--evaluator", "evaluator_path", default=None, help="Evaluator file (default: committed).")
    @click.option("--networks", default="resnet18,mobilenet_v2,resnet20", show_default=True,
                  help=NETWORKS_HELP)  # fmt: skip
    @samples_option(4000)
    @click.option("--top-fraction", type=click.FloatRange(0, 1, min_open=True), default=0.05,
                  show_default=True,
                  help="Per layer, the share of the space drawn from (most disputed first).")  # fmt: skip
    @click.option("--seed", type=int, default=31, show_default=True, help="Seed of the pair sampling.")
    @click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True)
    @click.option("--out", default=str(DISAGREEMENT_TABLE), show_default=True)
    @click.option("--cache", type=click.Path(dir_okay=False), default=None, help="SQLite cache file.")
    def dataset_disagree(evaluator_path, networks, samples, top_fraction, seed, workers, out, cache):
        """Simulate the (layer, accelerator) pairs of common CNNs on which the evaluator's ensemble members
        disagree most (query by committee: where ZigZag's mapping jumps and the rows are thin); resumes via
        the cache, held-out accelerators excluded. The pairs depend on the evaluator: the provenance
        records its SHA-256."""
        import hashlib

        from accel_model.dataset import network_pool, simulate_table
        from accel_model.evaluator import DEFAULT_EVALUATOR, load_evaluator
        from search.refine import disagreement_pairs

        named = _common_networks(networks)
        names = ",".join(n for n, _ in named)
        path = Path(evaluator_path or DEFAULT_EVALUATOR)
        command = _table_out(out, DISAGREEMENT_TABLE,
                             "coexplore dataset disagree --evaluator EVALUATOR_SHA256_FILE "
                             f"--networks {names} --samples {samples} --top-fraction {top_fraction} "
                             f"--seed {seed}")  # fmt: skip
        with bad_input_is_exit_2("--evaluator"):
            evaluator = load_evaluator(path)
        if evaluator.n_members < 2:
            raise InputError(f"--evaluator: {path} has one member; disagreement needs an ensemble")
        heldout, excluded = _heldout_accelerators()
        try:
            pairs = disagreement_pairs(evaluator, network_pool(named), samples, seed, top_fraction, heldout)
        except ValueError as err:
            raise InputError(f"--samples: {err}") from err
        meta = {"kind": "ensemble-disagreement extension", "networks": [f"{n}@{hw}px" for n, hw in named],
                "samples": samples, "top_fraction": top_fraction, "seed": seed,
                "evaluator_sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "excluded": excluded,
                "rebuild": command}  # fmt: skip
        prov = simulate_table(out, pairs, meta, workers, cache=cache, checkpoint_every=100)
        click.echo(f"wrote {out}: {prov['rows']} rows ({prov['ok']} ok, {prov['failed']} failed)")
