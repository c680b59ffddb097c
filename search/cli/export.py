"""Export commands: ``export accelerator`` (files ZigZag and Timeloop-family tools read) and ``export model``
(ONNX with QDQ that onnxruntime runs)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from search.cli.accel import resolve_layers_and_hw
from search.cli.common import InputError, input_errors, lazy_choice, parse_input_size


def register(main: click.Group) -> None:
    main.add_command(export)


@click.group()
def export():
    """Write a result as files other tools read."""


def _run_input(run_or_json: str):
    """The deployment input a run folder's metrics.json records (1x28x28 otherwise)."""
    from nas.deployment import InputSize

    metrics = Path(run_or_json) / "metrics.json"
    if Path(run_or_json).is_dir() and metrics.is_file():
        recorded = json.loads(metrics.read_text()).get("deployment_input")
        if recorded:
            with input_errors(f"{metrics}: deployment_input"):
                return InputSize.from_dict(recorded)
    return InputSize(1, 28, 28)


def _source(run_or_json: str, net: str | None, layers_path: str | None) -> tuple[str, str | None]:
    """(accelerator JSON path, the network: --net, or a run folder's own arch.json)."""
    path = Path(run_or_json)
    if path.is_dir():
        accel, arch = path / "accelerator.json", path / "arch.json"
        if not accel.is_file():
            raise InputError(f"{path} holds no accelerator.json (a run folder of `coexplore search` does)")
        default_net = str(arch) if arch.is_file() and layers_path is None else None
        return str(accel), net or default_net
    if not path.is_file():
        raise InputError(f"{run_or_json}: no such run folder or accelerator JSON file")
    return str(path), net


@export.command("accelerator")
@click.argument("run_or_json")
@click.option("--format", "fmt", type=lazy_choice("accel_model.export", "FORMATS"), required=True,
              help="zigzag: hardware, workload and per-layer mapping YAML for ZigZag's loader; timeloop: a "
              "Timeloop/Accelergy v0.3 architecture spec with the dataflow's constraints.")  # fmt: skip
@click.option("--net", help="The network whose layers the files cover: 'default' or an Arch JSON "
              "(default: the run folder's arch.json).")  # fmt: skip
@click.option("--layers", "layers_path", help="Instead of --net: a layers file (JSON list of LayerShape).")
@click.option("--input-size", callback=lambda ctx, p, v: None if v is None else parse_input_size(ctx, p, v),
              help="The network's input at deployment, for --net: CxHxW, HxW or H [default: the run "
              "folder's deployment input, else 1x28x28].")  # fmt: skip
@click.option("--out", type=click.Path(file_okay=False), required=True, help="Folder for the files.")
def export_accelerator(run_or_json, fmt, net, layers_path, input_size, out):
    """Write RUN_OR_JSON's accelerator (a run folder of `coexplore search`, or an accelerator JSON) in a
    format another tool reads, with the layers of the network it runs."""
    from accel_model.export import export_accelerator as write

    accel_path, net = _source(run_or_json, net, layers_path)
    if net is None and layers_path is None:
        net = "default"
    layers, accel = resolve_layers_and_hw(layers_path, net, input_size or _run_input(run_or_json), accel_path)
    with input_errors("--out"):
        files = write(fmt, accel, layers, out)
    click.echo(json.dumps({"format": fmt, "layers": len(layers), "files": [str(f) for f in files]}))


@export.command("model")
@click.argument("checkpoint", type=click.Path(dir_okay=False))
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="The ONNX file to write (.onnx).")
def export_model(checkpoint, out):
    """Write a quantized checkpoint (quantized.pt of `coexplore quantize`) as ONNX with QuantizeLinear/
    DequantizeLinear around every quantized layer and the weights as int4/int8/int16 initializers
    (opset 21); onnxruntime runs it."""
    from dfq.onnx_export import save_onnx, to_onnx
    from dfq.pipeline import load_quantized

    if not out.endswith(".onnx"):
        raise InputError(f"--out: {out} must end in .onnx")
    with input_errors(checkpoint):
        student, payload = load_quantized(checkpoint)
    meta = payload["teacher"]
    shape = (meta["in_channels"], meta["image_size"], meta["image_size"])
    path = save_onnx(to_onnx(student, shape), out)
    spec = payload["spec"]
    click.echo(json.dumps({"onnx": str(path), "bytes": path.stat().st_size, "w_bits": spec["w_bits"],
                           "a_bits": spec["a_bits"], "input": [1, *shape]}))  # fmt: skip
