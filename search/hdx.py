"""HDX: hard constraints (frame rate, latency, energy, area) in the differentiable search.

Every constraint is an upper bound on one log cost metric: ``--min-fps F`` is latency <= 1/F. While the
search runs, the evaluator prices the current soft architecture on the sampled accelerator; the
*margin* of a constraint is ``log(value) - log(bound)`` (> 0: violated).

Which design is checked: the margins that decide whether to manipulate are those of the *derived*
design (argmax architecture on its most likely accelerator), the one the search would return now; the
gradient g_c is that of the soft expected metric, the only differentiable one. Early in a search alpha is
near uniform and the soft mixture is far slower than its argmax, so a margin taken on the mixture keeps
pushing long after the derived design meets the bound (measured: every fps target ended on the space's
fastest design) -- the derived margin stops the push where the target is met.

Gradient manipulation (``manipulate``): with g the gradient of the search loss and g_c the gradient of
the constrained log metric, ``g' = g + mu * g_c`` with ``mu = max(0, (delta - <g, g_c>) / |g_c|^2)``,
so a descent step along -g' lowers the metric at a rate of at least delta. delta is ``kappa * |g_c|^2``
(scale-free): kappa grows while the constraint stays violated and shrinks back once it holds
(``DeltaSchedule``). Inside a guard band just below the bound (margin in (-band, 0]) delta is 0: the step
may not increase the metric, but is not pushed either. Below the band the gradient is left untouched, so
the objective is never given up.

Several constraints: the violated ones (and those in their guard band) are handled one after another,
the most violated last, so its condition holds exactly for the final g'; an earlier one's can be
weakened by a later correction, and is corrected again on the next step while it stays violated.

The guarantee at the end is the simulator's, not the evaluator's (``search.hdx_verify``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from accel_model.constraints import Constraint


def manipulate(g: torch.Tensor, g_c: torch.Tensor, delta: float) -> torch.Tensor:
    """``g + mu * g_c`` with ``mu = max(0, (delta - <g, g_c>) / |g_c|^2)``: afterwards
    ``<g', g_c> >= delta`` (equality when g was corrected); g itself when it already complies or g_c = 0."""
    norm2 = float(g_c.pow(2).sum())
    if norm2 == 0.0:
        return g
    mu = max(0.0, (delta - float((g * g_c).sum())) / norm2)
    return g + mu * g_c if mu > 0 else g


@dataclass
class DeltaSchedule:
    """kappa per constraint: multiplied by ``growth`` (up to ``kappa_max``) at each violated step, by
    ``relax`` (down to ``kappa0``) at each satisfied one; delta = kappa * |g_c|^2."""

    kappa0: float = 0.1
    growth: float = 1.5
    relax: float = 0.5
    kappa_max: float = 10.0  # larger: Adam's second moment inflates and the objective stalls for long after
    band: float = 0.02  # guard band in log units (about 2% under the aim)
    safety: float = 0.03  # aim this far (log units) under the bound: the evaluator's error on children
    kappa: dict[str, float] = field(default_factory=dict)

    def delta(self, name: str, margin: float, g_c_norm2: float) -> float | None:
        """delta for this step, or None when the gradient is to be left untouched."""
        k = self.kappa.get(name, self.kappa0)
        margin = margin + self.safety
        if margin > 0:
            self.kappa[name] = min(k * self.growth, self.kappa_max)
            return k * g_c_norm2
        self.kappa[name] = max(k * self.relax, self.kappa0)
        return 0.0 if margin > -self.band else None


def flat(tensors: Sequence[torch.Tensor | None], like: Sequence[torch.Tensor]) -> torch.Tensor:
    return torch.cat(
        [
            (t if t is not None else torch.zeros_like(p)).reshape(-1)
            for t, p in zip(tensors, like, strict=True)
        ]
    )


def current_margins(costs: dict[str, torch.Tensor], constraints: Sequence[Constraint]) -> dict[str, float]:
    """Each constraint's margin (log units) on the batch-mean of ``costs``."""
    return {c.name: float(c.margin({c.key: costs[c.key].mean().detach()})) for c in constraints}


def constrained_gradients(
    loss: torch.Tensor,
    costs: dict[str, torch.Tensor],
    constraints: Sequence[Constraint],
    schedule: DeltaSchedule,
    params: Sequence[torch.Tensor],
    margins: dict[str, float] | None = None,
) -> tuple[list[torch.Tensor], dict[str, float]]:
    """Gradients of ``loss`` w.r.t. ``params`` after manipulation for every constraint that needs it
    (most violated last), and each constraint's margin (log units) at this step: ``margins`` when given
    (the derived design's), else those of the batch-mean ``costs``."""
    g = flat(torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True), params)
    if margins is None:
        margins = current_margins(costs, constraints)
    for c in sorted(constraints, key=lambda c: margins[c.name]):
        metric = torch.log(costs[c.key].mean())
        if not metric.requires_grad:
            continue  # e.g. area on a fixed accelerator: nothing here can change it
        g_c = flat(torch.autograd.grad(metric, params, retain_graph=True, allow_unused=True), params)
        delta = schedule.delta(c.name, margins[c.name], float(g_c.pow(2).sum()))
        if delta is not None:
            g = manipulate(g, g_c, delta)
    out, start = [], 0
    for p in params:
        out.append(g[start : start + p.numel()].view_as(p))
        start += p.numel()
    return out, margins
