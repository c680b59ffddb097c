"""Shared helpers for the command line: input errors (exit 2) and argument parsing."""

from __future__ import annotations

import json
import shutil
from contextlib import contextmanager
from pathlib import Path

import click

from nas.arch import Arch
from nas.data import DATA_ENV, load_dataset, split_validation
from nas.space import SearchSpace


class InputError(click.ClickException):
    """Bad user input: printed as one line ``error: ...`` and exit code 2."""

    exit_code = 2

    def show(self, file=None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


@contextmanager
def bad_input_is_exit_2(what: str = ""):
    """Turn the validation errors raised at the boundary into one-line InputErrors."""
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


def parse_arch(value: str, space: SearchSpace) -> Arch:
    """``default``, a path to an Arch JSON file, or a comma-separated list of op names."""
    with bad_input_is_exit_2("--arch"):
        if value == "default":
            arch = space.default_arch()
        elif value.endswith(".json") or Path(value).is_file():
            try:
                arch = Arch.from_dict(json.loads(Path(value).read_text()))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{value}: invalid JSON ({exc.msg} at line {exc.lineno})") from None
        else:
            arch = Arch(tuple(op.strip() for op in value.split(",")))
        return space.validate(arch)


DATA_DIR_OPTION = click.option(
    "--data-dir",
    envvar=DATA_ENV,
    default=None,
    help=f"Folder with the 4 IDX files, or an .npz (x_train,y_train,x_test,y_test). Env: {DATA_ENV}. "
    "Default: Debian's Fashion-MNIST.",
)


def load_splits(data_dir: str | None, val_seed: int = 0):
    """Train/validation/test splits of the data, or a one-line exit-2 error naming the problem."""
    with bad_input_is_exit_2("data"):
        return split_validation(load_dataset(data_dir), seed=val_seed)


def check_data_fits(checkpoint: str, meta: dict, splits) -> None:
    """Exit 2 when the data's channels/classes/size are not what the checkpoint was trained on."""
    want = (meta["in_channels"], meta["num_classes"], meta.get("image_size", splits.image_size))
    have = (splits.channels, splits.num_classes, splits.image_size)
    if want != have:
        raise InputError(
            f"{checkpoint} expects {want[0]}-channel {want[2]}px images and {want[1]} classes; "
            f"the data has {have[0]}-channel {have[2]}px images and {have[1]} classes"
        )


def out_dir_options(default: str, what: str):
    """``--out`` (a folder) and ``--overwrite``, shared by the commands that write a run folder."""

    def wrap(fn):
        fn = click.option("--overwrite", is_flag=True, help="Replace an existing output folder.")(fn)
        return click.option("--out", type=click.Path(file_okay=False), default=default, show_default=True,
                            help=what)(fn)  # fmt: skip

    return wrap


def check_out_dir(out: str, overwrite: bool) -> Path:
    """Exit 2 when ``out`` holds files and ``overwrite`` is not set; nothing is removed here."""
    out_dir = Path(out)
    if out_dir.exists() and any(out_dir.iterdir()) and not overwrite:
        raise InputError(f"{out_dir} exists and is not empty (pass --overwrite to replace it)")
    return out_dir


def clear_dir(path: Path) -> None:
    """Remove ``path`` (when it exists) and create it empty."""
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
