"""The ``coexplore`` command line, the top floor: every command parses its options, calls the library
and prints. No library module imports from here; building the command line imports no torch (each
command imports what it calls), so ``coexplore --help`` answers at once.

Exit codes: 0 done; 1 a run failed (a traceback, a simulator error or a data-free generator that
collapsed with every seed tried: a bug or the tool's limit, never your input); 2 bad input (one line
``error: ...`` naming the option or field, before any expensive work).
"""

from __future__ import annotations

import sys

import click

from dfq.failures import GeneratorCollapsed
from search.cli import accel, cache, codesign, dfq, evaluator, explore, export, network


class OneLineErrors(click.Group):
    """Click's own usage errors (unknown option or command, bad value, missing argument) as one line
    ``error: ...`` and exit 2, like every other refusal of the tool."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, **extra)
        except click.UsageError as exc:
            click.echo(f"error: {exc.format_message().splitlines()[0]}", err=True)
            sys.exit(2)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except GeneratorCollapsed as exc:  # the run failed, loudly and in one line: not the input's fault
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
        except click.exceptions.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


@click.group(
    cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110}
)
@click.version_option(package_name="coexplore")
def main() -> None:
    """coexplore: co-design a neural network and its accelerator, then quantize it data-free.

    Exit codes: 0 done, 1 a run failed (traceback), 2 bad input (one line "error: ...")."""


for group in (network, accel, cache, evaluator, explore, codesign, dfq, export):
    group.register(main)
