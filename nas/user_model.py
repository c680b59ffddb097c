"""Bring your own model: any PyTorch image classifier, described by options instead of a coexplore
checkpoint.

A model comes from a saved ``nn.Module`` file (``torch.save(model, path)``) or from a factory,
``pkg.module:factory``, called without arguments, with an optional state_dict file for its weights. Its
input (channels, square side), class count and normalisation are given, not read from a dataset; the
class count, when not given, is read from one forward pass. ``user_meta`` turns that into the metadata
every DFQ step reads (``in_channels``, ``image_size``, ``num_classes``, ``mean``, ``std``) plus a
``user_model`` reference from which ``build_user_model`` rebuilds the network, so that a quantized
checkpoint of it reloads.

Loading a saved module or calling a factory runs that file's or package's code: give only files you trust.
TorchScript files are refused: their layers cannot be swapped for quantized ones.
"""

from __future__ import annotations

import importlib
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from accel_model.files import load_torch_file
from nas.deployment import InputSize

USER_MODEL_KEY = "user_model"


def _factory(reference: str):
    module_name, _, attr = reference.partition(":")
    if not module_name or not attr:
        raise ValueError(f"--model {reference!r}: use a saved module file or pkg.module:factory")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"--model {reference!r}: cannot import {module_name} ({exc})") from None
    target = module
    for part in attr.split("."):
        if not hasattr(target, part):
            raise ValueError(f"--model {reference!r}: {module_name} has no {attr}")
        target = getattr(target, part)
    if not callable(target):
        raise ValueError(f"--model {reference!r}: {attr} is not callable")
    return target


def _is_torchscript(path: Path) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(name.endswith("constants.pkl") or "/code/" in name for name in archive.namelist())


def _load_module_file(path: Path) -> nn.Module:
    if _is_torchscript(path):
        raise ValueError(
            f"--model {path}: a TorchScript file; its layers cannot be swapped for quantized "
            "ones: save the nn.Module itself (torch.save(model, path)) or give pkg.module:factory"
        )
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # noqa: BLE001 - unpickling raises many kinds
        raise ValueError(
            f"--model {path}: not a readable saved module ({type(exc).__name__}: {exc})"
        ) from None
    if isinstance(loaded, dict):
        raise ValueError(
            f"--model {path}: holds a state_dict, not a module: give the model as "
            f"pkg.module:factory and this file as --weights"
        )
    if not isinstance(loaded, nn.Module):
        raise ValueError(f"--model {path}: holds a {type(loaded).__name__}, not an nn.Module")
    return loaded


def _load_weights(model: nn.Module, weights: str | Path) -> None:
    try:
        state = load_torch_file(weights, "state_dict")
    except ValueError as exc:
        raise ValueError(f"--weights {exc}") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ValueError(f"--weights {weights}: holds a {type(state).__name__}, not a state_dict")
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        detail = first[1].strip() if len(first) > 1 else first[0]
        raise ValueError(f"--weights {weights}: does not fit the model ({detail})") from None


def load_user_model(model: str, weights: str | None = None) -> tuple[nn.Module, dict[str, Any]]:
    """The network ``model`` names (a saved module file, or ``pkg.module:factory``), weights loaded, in
    eval mode; and the reference ``build_user_model`` rebuilds it from. ValueError naming the problem."""
    path = Path(model)
    if path.is_file():
        if weights:
            raise ValueError(
                "--weights: only with --model pkg.module:factory (a saved module holds its weights)"
            )
        net, reference = _load_module_file(path), {"file": str(path.resolve())}
    elif ":" in model and not path.exists():
        net = _factory(model)()
        if not isinstance(net, nn.Module):
            raise ValueError(
                f"--model {model!r}: the factory returned a {type(net).__name__}, not an nn.Module"
            )
        if weights:
            _load_weights(net, weights)
        reference = {"factory": model}
    else:
        raise ValueError(f"--model {model}: no such file (or pkg.module:factory)")
    return net.eval(), reference


def build_user_model(reference: dict[str, Any]) -> nn.Module:
    """A model of the kind ``reference`` names (its weights are overwritten by the caller's state_dict)."""
    if "factory" in reference:
        return _factory(reference["factory"])()
    return _load_module_file(Path(reference["file"]))


@torch.no_grad()
def user_meta(
    net: nn.Module,
    reference: dict[str, Any],
    input_size: str,
    num_classes: int | None = None,
    mean: tuple[float, ...] | None = None,
    std: tuple[float, ...] | None = None,
) -> dict[str, Any]:
    """The DFQ metadata of ``net``: ``input_size`` (CxHxW, square; or H with 3 channels), the class count
    (given, or read from one forward pass, which also checks that the model accepts that input), and
    the normalisation the model expects of [0, 1] images (default: none, mean 0 and std 1)."""
    size = InputSize.parse(input_size, default_channels=3)
    if size.height != size.width:
        raise ValueError(f"--input-size {input_size}: only square inputs are supported (H == W)")
    mean, std = tuple(mean or (0.0,) * size.channels), tuple(std or (1.0,) * size.channels)
    for name, values in (("--mean", mean), ("--std", std)):
        if len(values) != size.channels:
            raise ValueError(
                f"{name}: give {size.channels} values (one per input channel), got {len(values)}"
            )
    if min(std) <= 0:
        raise ValueError("--std: every value must be positive")
    try:
        out = net(torch.zeros(2, size.channels, size.height, size.width))
    except Exception as exc:  # noqa: BLE001 - whatever the model raises on a wrong input
        raise ValueError(
            f"--input-size {size.label()}: the model does not accept it "
            f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
        ) from None
    if not isinstance(out, torch.Tensor) or out.dim() != 2:
        raise ValueError(
            f"--model: the model must return [batch, classes] logits, got {getattr(out, 'shape', out)}"
        )
    if num_classes is not None and out.shape[1] != num_classes:
        raise ValueError(f"--num-classes {num_classes}: the model returns {out.shape[1]} logits")
    return {
        USER_MODEL_KEY: reference,
        "in_channels": size.channels,
        "image_size": size.height,
        "num_classes": int(out.shape[1]),
        "mean": list(mean),
        "std": list(std),
    }
