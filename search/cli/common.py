"""What the commands share: the one-line input error (exit 2), the converter for validation calls, the
options several commands declare, and argument parsing. Imports no torch: ``coexplore --help`` stays fast
(every command imports the library it calls inside its own body)."""

from __future__ import annotations

import functools
import json
from contextlib import contextmanager
from pathlib import Path

import click

from accel_model.paths import DEFAULT_EVALUATOR

DATA_ENV = "COEXPLORE_DATA"  # nas.data reads the same variable (checked by a test)


class InputError(click.ClickException):
    """Bad user input: printed as one line ``error: ...`` and exit code 2."""

    exit_code = 2

    def show(self, file=None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


@contextmanager
def input_errors(what: str = ""):
    """Around *validation* only (parsing, loading and checking inputs, before any long work): its
    ``ValueError``/``KeyError``/``TypeError``/``OSError`` become one-line InputErrors naming ``what``.
    Never wrap a long run in it: an unexpected exception there is a bug and must show its traceback."""
    try:
        yield
    except (ValueError, KeyError, TypeError, OSError) as exc:
        prefix = f"{what}: " if what else ""
        message = (
            exc.strerror + f": {exc.filename}" if isinstance(exc, OSError) and exc.strerror else str(exc)
        )
        raise InputError(
            prefix + message.splitlines()[0] if message else prefix + type(exc).__name__
        ) from None


class LazyChoice(click.Choice):
    """A ``click.Choice`` whose names are read from a library registry or table on first use (a
    command's own ``--help`` or parsing), so that building the command line imports no torch."""

    def __init__(self, load, case_sensitive: bool = True):
        self._load, self._names = load, None
        self.case_sensitive = case_sensitive

    @property
    def choices(self):
        if self._names is None:
            self._names = tuple(self._load())
        return self._names

    @choices.setter
    def choices(self, value) -> None:
        self._names = tuple(value)


def lazy_choice(module: str, attribute: str) -> LazyChoice:
    """Choice among the sorted names of ``module.attribute`` (a registry, dict or tuple of names)."""
    import importlib

    return LazyChoice(lambda: sorted(getattr(importlib.import_module(module), attribute)))


def options(*decorators):
    """Several click options as one decorator, applied in the order listed (as --help shows them)."""

    def wrap(fn):
        for decorator in reversed(decorators):
            fn = decorator(fn)
        return fn

    return wrap


def option_group(name: str, *decorators):
    """Options declared once for several commands and handed to each as one dict argument ``name``
    (option name -> value), so that a command's signature lists only its own options."""

    def probe():
        pass

    names = [param.name for param in options(*decorators)(probe).__click_params__]

    def wrap(fn):
        @functools.wraps(fn)
        def command(**kwargs):
            kwargs[name] = {n: kwargs.pop(n) for n in names}
            return fn(**kwargs)

        return options(*decorators)(command)

    return wrap


def read_json(path: str, what: str):
    """The parsed JSON file at ``path`` (exit 2 naming ``what`` when missing or malformed)."""
    with input_errors(what):
        try:
            return json.loads(Path(path).read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: invalid JSON ({exc.msg} at line {exc.lineno})") from None


def parse_arch(value: str, option: str = "--arch"):
    """``default``, a path to an Arch JSON file, or a comma-separated list of op names (exit 2 naming
    ``option`` otherwise)."""
    from nas.arch import Arch
    from nas.space import SearchSpace

    space = SearchSpace()
    is_file = value.endswith(".json") or Path(value).is_file()
    if value != "default" and not is_file and "," not in value:
        raise InputError(f"{option}: {value!r} is not 'default', an Arch JSON file or comma-separated op "
                         f"names (one per layer, {len(space.default_arch().ops)} layers)")  # fmt: skip
    if value != "default" and is_file:
        data = read_json(value, option)
    with input_errors(option):
        if value == "default":
            arch = space.default_arch()
        elif value.endswith(".json") or Path(value).is_file():
            arch = Arch.from_dict(data)
        else:
            arch = Arch(tuple(op.strip() for op in value.split(",")))
        return space.validate(arch)


def load_splits(data_dir: str | None, val_seed: int = 0):
    """Train/validation/test splits of the data, or a one-line exit-2 error naming the problem."""
    from nas.data import load_splits as load

    with input_errors("data"):
        return load(data_dir, val_seed)


def check_data_fits(checkpoint: str, meta: dict, splits) -> None:
    """Exit 2 when the data's channels/classes/size are not what the checkpoint was trained on."""
    want = (meta["in_channels"], meta["num_classes"], meta.get("image_size", splits.image_size))
    have = (splits.channels, splits.num_classes, splits.image_size)
    if want != have:
        raise InputError(
            f"{checkpoint} expects {want[0]}-channel {want[2]}px images and {want[1]} classes; "
            f"the data has {have[0]}-channel {have[2]}px images and {have[1]} classes"
        )


def check_out_dir(out: str, overwrite: bool) -> Path:
    """Exit 2 when ``out`` holds files and ``overwrite`` is not set; nothing is removed here."""
    out_dir = Path(out)
    if out_dir.exists() and any(out_dir.iterdir()) and not overwrite:
        raise InputError(f"{out_dir} exists and is not empty (pass --overwrite to replace it)")
    return out_dir


def check_table_out(out: str) -> None:
    if not str(out).endswith((".csv", ".csv.gz")):
        raise InputError(f"--out: {out} must end in .csv or .csv.gz")


def _numbers(value: str, ok, rule: str) -> tuple[float, ...]:
    """A comma-separated list of numbers, each passing ``ok`` (``rule`` says what ``ok`` wants)."""
    try:
        values = tuple(float(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a comma-separated list of numbers") from None
    if not all(ok(v) for v in values):
        raise click.BadParameter(f"values must be {rule}")
    return values


def parse_floats(ctx, param, value: str | None) -> tuple[float, ...]:
    """Callback: a comma-separated list of positive numbers (empty tuple when absent)."""
    return () if value is None else _numbers(value, lambda v: v > 0, "> 0")


def parse_non_negative(ctx, param, value: str | None) -> tuple[float, ...]:
    """Callback: a comma-separated list of numbers >= 0 (empty tuple when absent)."""
    return () if value is None else _numbers(value, lambda v: v >= 0, ">= 0")


def parse_lams(ctx, param, value: str) -> tuple[float, ...]:
    """Callback: one or more comma-separated numbers >= 0."""
    return _numbers(value, lambda v: v >= 0, ">= 0")


# ---- options shared by several commands -------------------------------------------------------------

ARCH_OPTION = click.option(
    "--arch",
    default="default",
    show_default=True,
    help="'default', an Arch JSON file ({\"ops\": [...]}) or comma-separated op names, one per layer.",
)
DATA_DIR_OPTION = click.option(
    "--data-dir",
    envvar=DATA_ENV,
    default=None,
    help=f"Folder with the 4 IDX files, or an .npz (x_train,y_train,x_test,y_test). Env: {DATA_ENV}. "
    "Default: Debian's Fashion-MNIST.",
)
EVALUATOR_OPTION = click.option(
    "--evaluator", "evaluator_path", default=str(DEFAULT_EVALUATOR), show_default=True,
    help="Trained evaluator file (.pt).")  # fmt: skip
OBJECTIVE_OPTION = click.option(
    "--objective", default="edap", show_default=True,
    help="latency, energy, area, edp, edap or weights like latency=1,energy=0.5.")  # fmt: skip
QUIET_OPTION = click.option("--quiet", is_flag=True, help="No progress bars.")
WORKERS_OPTION = click.option(
    "--workers", type=click.IntRange(min=1), default=2, show_default=True,
    help="Processes simulating with ZigZag.")  # fmt: skip


def check_cache(ctx, param, value: str | None) -> str | None:
    """``--cache``: refused at once (one line) when it is not a simulation cache (a sweep's runs.db, a
    foreign or corrupt file), before any simulation."""
    from accel_model.cache import SimulationCache
    from accel_model.paths import default_cache_path

    try:
        SimulationCache.refuse_unusable(value or default_cache_path())
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    return value


CACHE_OPTION = click.option(
    "--cache", type=click.Path(dir_okay=False), default=None, callback=check_cache,
    help="SQLite simulation cache file (default: $COEXPLORE_HOME/sim_cache.sqlite).")  # fmt: skip
LPF_OPTION = click.option("--lpf-limit", type=click.IntRange(1, 12), help="ZigZag LOMA lpf_limit.")
INPUT_SIZE_HELP = (
    "The network's input as the accelerator runs it at deployment, which every cost is of: CxHxW "
    "(3x224x224), HxW or H (square) with the proxy data's channels. Accuracy stays the proxy dataset's."
)
INPUT_SIZE_OPTION = click.option(
    "--input-size", default=None,
    help=INPUT_SIZE_HELP + " [default: the proxy dataset's own, 1x28x28 for Fashion-MNIST]")  # fmt: skip


def parse_input_size(ctx, param, value: str):
    """``--input-size`` of the commands without a dataset: an ``InputSize`` (1 channel for H or HxW)."""
    from nas.deployment import InputSize

    try:
        return InputSize.parse(value, default_channels=1)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


FIXED_INPUT_SIZE_OPTION = click.option(
    "--input-size", default="1x28x28", show_default=True, callback=parse_input_size,
    help="The network's input as the accelerator runs it: CxHxW, HxW or H (square; 1 channel).")  # fmt: skip
TOP_K_OPTION = click.option(
    "--top-k", type=click.IntRange(min=1), default=10, show_default=True,
    help="two-stage, hw-first: evaluator's best accelerators verified by ZigZag.")  # fmt: skip


def out_dir_options(default: str, what: str):
    """``--out`` (a folder) and ``--overwrite``, shared by the commands that write a run folder."""
    return options(
        click.option(
            "--out", type=click.Path(file_okay=False), default=default, show_default=True, help=what
        ),
        click.option("--overwrite", is_flag=True, help="Replace an existing output folder."),
    )


def samples_option(default: int):
    """``--samples`` of the sampled tables (``dataset build`` / ``extend`` / ``disagree``)."""
    return click.option(
        "--samples",
        type=click.IntRange(min=1),
        default=default,
        show_default=True,
        help="(layer, accelerator) pairs; a larger N extends a smaller one with the same seed.",
    )


def search_profile_option(default: str):
    return click.option(
        "--profile",
        type=lazy_choice("search.dance", "SEARCH_PROFILES"),
        default=default,
        show_default=True,
        help="Search length; the derived child is retrained with the training profile of the same name.",
    )
