"""Batch-statistics matching: how far the statistics a batch induces at every BatchNorm input are from
the running statistics the teacher stored during training (ZeroQ, GDFQ, DSG and their successors).

``BNStatsLoss(teacher)`` hooks every ``BatchNorm2d`` once; after each forward pass, ``loss()`` returns
the mean over BN layers of ``||mu_batch - running_mean||_2 + ||sigma_batch - running_std||_2`` (the
ZeroQ form, with the standard deviation rather than the variance so both terms share units).
"""

from __future__ import annotations

import torch
from torch import nn

from dfq import kernels
from dfq.hooks import ForwardHooks


class BNHooks(ForwardHooks):
    """A forward hook (``_hook``) on every BatchNorm2d of ``model``, or on ``layers``; use as a context
    manager (or call ``remove``) to take them off."""

    def __init__(self, model: nn.Module, layers: list[nn.BatchNorm2d] | None = None):
        self.layers = (
            layers if layers is not None else [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
        )
        if not self.layers:
            raise ValueError("the model has no BatchNorm2d layer: batch-statistics matching needs one")
        self.handles = [m.register_forward_hook(self._hook) for m in self.layers]

    def _hook(self, module: nn.BatchNorm2d, inputs: tuple[torch.Tensor, ...], _output) -> None:
        raise NotImplementedError


class BNStatsLoss(BNHooks):
    """The batch-level matching loss (see the module doc)."""

    def __init__(self, model: nn.Module):
        self.terms: list[torch.Tensor] = []
        self.batch_stats: list[tuple[torch.Tensor, torch.Tensor]] = []
        super().__init__(model)

    def _hook(self, module: nn.BatchNorm2d, inputs: tuple[torch.Tensor, ...], _output) -> None:
        mean, var = kernels.bn_stats(inputs[0])  # one pass over the activation (Triton on a GPU)
        std = (var + module.eps).sqrt()
        self.batch_stats.append((mean, std))
        target_std = (module.running_var + module.eps).sqrt()
        self.terms.append(
            torch.linalg.vector_norm(mean - module.running_mean) + torch.linalg.vector_norm(std - target_std)
        )

    def loss(self) -> torch.Tensor:
        """The matching loss of the last forward pass (and reset for the next one)."""
        if not self.terms:
            raise RuntimeError("no forward pass went through the hooked BatchNorm layers")
        value = torch.stack(self.terms).mean()
        self.terms, self.batch_stats = [], []
        return value


class BNInputStats(BNHooks):
    """Forward hooks recording, for every BatchNorm2d of ``model`` (or only ``layers``), each sample's
    per-channel mean and variance of the BN input over space: ``stats`` is a list of ``(mean [N, C],
    var [N, C], module)`` in forward order, reset by ``take()``. DSG's and ClusterQ's losses use it."""

    def __init__(self, model: nn.Module, layers: list[nn.BatchNorm2d] | None = None):
        self.stats: list[tuple[torch.Tensor, torch.Tensor, nn.BatchNorm2d]] = []
        super().__init__(model, layers)

    def _hook(self, module: nn.BatchNorm2d, inputs: tuple[torch.Tensor, ...], _output) -> None:
        x = inputs[0]
        self.stats.append((x.mean(dim=(2, 3)), x.var(dim=(2, 3), unbiased=False), module))

    def take(self) -> list[tuple[torch.Tensor, torch.Tensor, nn.BatchNorm2d]]:
        if not self.stats:
            raise RuntimeError("no forward pass went through the hooked BatchNorm layers")
        out, self.stats = self.stats, []
        return out
