"""Shared helpers for the command line: input errors (exit 2) and argument parsing."""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path

import click

from nas.arch import Arch
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
