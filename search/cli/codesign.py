"""``coexplore codesign``: from a target to deployable files in one resumable run folder."""

from __future__ import annotations

import click

from search.cli.common import (
    DATA_DIR_OPTION,
    EVALUATOR_OPTION,
    INPUT_SIZE_OPTION,
    OBJECTIVE_OPTION,
    QUIET_OPTION,
    WORKERS_OPTION,
    input_errors,
    lazy_choice,
    search_profile_option,
)
from search.cli.explore import CONSTRAINT_OPTIONS, GENERATOR_OPTION, epoch_printer


def register(main: click.Group) -> None:
    main.add_command(codesign)


@click.command()
@CONSTRAINT_OPTIONS
@OBJECTIVE_OPTION
@click.option("--lam", type=click.FloatRange(min=0), default=0.5, show_default=True,
              help="Weight of the log hardware cost against cross-entropy.")  # fmt: skip
@search_profile_option("quick")
@click.option("--epochs", type=click.IntRange(min=2), help="Override the profile's search epochs.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the search and the DFQ run.")
@click.option("--hw", type=click.Choice(["generator", "free"]), default="generator", show_default=True,
              help="generator: DANCE's hardware-generation network; free: accelerator logits the "
              "constraint's gradient moves directly.")  # fmt: skip
@GENERATOR_OPTION
@EVALUATOR_OPTION
@click.option("--source", type=lazy_choice("dfq.sources", "SOURCES"), default="gdfq", show_default=True,
              help="Data-free source of the quantization (see `coexplore quantize --help`).")  # fmt: skip
@click.option("--finetune", type=lazy_choice("dfq.finetunes", "FINETUNES"),
              help="Fine-tuning of the quantization (default: the source's own, kd for gdfq).")  # fmt: skip
@click.option("--dfq-profile", type=lazy_choice("dfq.api", "PROFILES"), default="quick", show_default=True,
              help="Step counts of the data-free quantization.")  # fmt: skip
@WORKERS_OPTION
@DATA_DIR_OPTION
@INPUT_SIZE_OPTION
@QUIET_OPTION
@click.option("--out", type=click.Path(file_okay=False), default="runs/codesign", show_default=True,
              help="Run folder: report.md, accelerator files, model.onnx. Rerun to resume.")  # fmt: skip
@click.option("--overwrite", is_flag=True, help="Start again in a folder that holds another run.")
def codesign(limits, objective, lam, profile, epochs, seed, hw, generator_path, evaluator_path, source,
             finetune, dfq_profile, workers, data_dir, input_size, quiet, out, overwrite):  # fmt: skip
    """Search network and accelerator under the constraints (HDX), retrain the derived child, quantize
    it data-free to the accelerator's bits, simulate with ZigZag, write the accelerator as ZigZag and
    Timeloop files and the network as QDQ ONNX, and a report.md. Resumable: each finished stage is kept."""
    from search.codesign import plan, run_codesign

    config = {
        "limits": limits, "source": source, "finetune": finetune, "dfq_profile": dfq_profile,
        "search": {"objective": objective, "lam": lam, "profile": profile, "epochs": epochs, "seed": seed,
                   "hw": hw, "generator_path": generator_path, "evaluator_path": evaluator_path,
                   "data_dir": data_dir, "workers": workers, "input_size": input_size},
    }  # fmt: skip
    with input_errors():
        run = plan(config, out, overwrite)

    def show(stage, state):
        click.echo(f"[{stage}] {state}", err=True)

    run_codesign(run, not quiet, show, epoch_printer(quiet))
    click.echo(f"-> {out}/report.md")
