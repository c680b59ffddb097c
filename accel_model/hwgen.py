"""Hardware generation (DANCE): architecture probabilities -> accelerator, trained through the frozen
evaluator; and the plain alternative, free accelerator logits optimized directly.

Objectives are sums of weighted log metrics (``log_objective``), so a weight means the same thing
whatever the metric's scale: ``edap`` = log energy + log latency + log area.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn
from tqdm import tqdm

from accel_model.domain import Accelerator
from accel_model.evaluator import CostEvaluator
from accel_model.expected_cost import CostTemplate, expected_cost
from accel_model.soft_accel import AccelProbs
from accel_model.space import FIELDS

DATAFLOW = FIELDS.index("dataflow")
BITS = FIELDS.index("bits")
METRIC_KEYS = {"latency": "latency_cycles", "energy": "energy_pj", "area": "area_mm2"}
OBJECTIVES: dict[str, dict[str, float]] = {
    "latency": {"latency": 1.0},
    "energy": {"energy": 1.0},
    "area": {"area": 1.0},
    "edp": {"energy": 1.0, "latency": 1.0},
    "edap": {"energy": 1.0, "latency": 1.0, "area": 1.0},
}


def parse_objective(spec: str) -> dict[str, float]:
    """A named objective (``OBJECTIVES``) or a weighted sum like ``latency=1,energy=0.5``."""
    if spec in OBJECTIVES:
        return OBJECTIVES[spec]
    weights = {}
    for part in spec.split(","):
        name, _, value = part.partition("=")
        name = name.strip()
        if name not in METRIC_KEYS:
            raise ValueError(
                f"objective {spec!r}: unknown metric {name!r}; use one of {sorted(OBJECTIVES)} "
                f"or weights over {sorted(METRIC_KEYS)} like latency=1,energy=0.5"
            )
        try:
            weights[name] = float(value) if value else 1.0
        except ValueError:
            raise ValueError(f"objective {spec!r}: weight of {name} is not a number") from None
    return weights


def log_objective(costs: dict[str, torch.Tensor], weights: dict[str, float]) -> torch.Tensor:
    return sum(w * torch.log(costs[METRIC_KEYS[m]]) for m, w in weights.items())


def with_bits(groups: AccelProbs, bits: torch.Tensor) -> AccelProbs:
    """``groups`` (logits or probabilities per field) with the bits group replaced by ``bits``
    (``[A, n_bits]`` or ``[1, n_bits]``): the bit width is the search's choice, not the hardware side's."""
    bits = bits.expand(groups[0].shape[0], -1)
    return groups[:BITS] + [bits] + groups[BITS + 1 :]


def bits_logits(bits_probs: torch.Tensor) -> torch.Tensor:
    """Logits whose argmax (and softmax, for one-hot input) is the given bit-width choice."""
    return torch.log(bits_probs.clamp_min(1e-30))


def hardware_sample(
    hardware: nn.Module,
    evaluator: CostEvaluator,
    arch_probs: torch.Tensor,
    bits: torch.Tensor,
    tau: float,
    generator: torch.Generator | None,
) -> AccelProbs:
    """A straight-through accelerator sample for (architecture, bit width): the hardware side's logits
    for the other fields sampled by Gumbel-softmax, the bits group exactly ``bits`` (its gradient flows
    back to whatever chose the bits)."""
    logits = hardware(arch_probs, bits)
    return with_bits(evaluator.relax.gumbel_straight_through(logits, tau, generator), bits)


def random_bits(batch: int, n_bits: int, generator: torch.Generator) -> torch.Tensor:
    """``[batch, n_bits]`` one-hot bit widths drawn uniformly."""
    idx = torch.randint(n_bits, (batch,), generator=generator)
    return torch.nn.functional.one_hot(idx, n_bits).float()


class HardwareGenerator(nn.Module):
    """MLP: flattened ``[B, slots, ops]`` architecture probabilities and the ``[B, n_bits]`` bit-width
    choice -> logits per accelerator field (the bits group is the given choice: the generator proposes
    the other fields for it)."""

    default_lr = 3e-3

    def __init__(self, slots: int, ops: int, field_sizes: list[int], hidden: int = 128):
        super().__init__()
        self.field_sizes = list(field_sizes)
        self.net = nn.Sequential(
            nn.Linear(slots * ops + field_sizes[BITS], hidden),
            nn.SiLU(),
            nn.Linear(hidden, hidden),
            nn.SiLU(),
            nn.Linear(hidden, sum(field_sizes)),
        )

    def forward(self, arch_probs: torch.Tensor, bits: torch.Tensor) -> AccelProbs:
        bits = bits.expand(arch_probs.shape[0], -1)
        logits = self.net(torch.cat([arch_probs.flatten(1), bits], dim=1)).split(self.field_sizes, dim=1)
        return with_bits(list(logits), bits_logits(bits))


class FreeAccelerator(nn.Module):
    """Accelerator logits that ignore the architecture (the plain alternative to the generator). The
    bits group is the search's own bit-width choice, which the loss pays for like any other field."""

    default_lr = 0.05  # the parameters are the logits themselves

    def __init__(self, field_sizes: list[int]):
        super().__init__()
        self.logits = nn.ParameterList([nn.Parameter(torch.zeros(1, n)) for n in field_sizes])

    def forward(self, arch_probs: torch.Tensor, bits: torch.Tensor) -> AccelProbs:
        groups = [g.expand(arch_probs.shape[0], -1) for g in self.logits]
        return with_bits(groups, bits_logits(bits))


class FixedAccelerator(nn.Module):
    """One concrete accelerator as (very peaked) logits: a search on fixed hardware. Its bit width is
    fixed too (``fixed_bits``; the search holds its bits choice there)."""

    def __init__(self, relax, accel: Accelerator):
        super().__init__()
        hard = relax.hard([accel])
        for i, group in enumerate(hard):
            self.register_buffer(f"logits_{i}", group * 1e4)
        self.fields = len(hard)
        self.fixed_bits = accel.bits

    def forward(self, arch_probs: torch.Tensor, bits: torch.Tensor) -> AccelProbs:
        return [getattr(self, f"logits_{i}").expand(arch_probs.shape[0], -1) for i in range(self.fields)]


class PerDataflowGenerator(nn.Module):
    """One ``HardwareGenerator`` per dataflow, each with its dataflow fixed; the frozen evaluator picks
    among their accelerators per architecture (``select_accelerators``).

    Independent per-field logits get trapped: the best array shape depends on the dataflow, and
    straight-through gradients never change rows, columns and dataflow together. Fixing the dataflow
    per member removes that coupling; the evaluator's choice among 3 candidates is exact."""

    default_lr = HardwareGenerator.default_lr

    def __init__(self, slots: int, ops: int, field_sizes: list[int], hidden: int = 128):
        super().__init__()
        self.field_sizes = list(field_sizes)
        self.members = nn.ModuleList(
            [HardwareGenerator(slots, ops, field_sizes, hidden) for _ in range(field_sizes[DATAFLOW])]
        )

    def member(self, k: int) -> nn.Module:
        return _FixedDataflow(self.members[k], k)


class _FixedDataflow(nn.Module):
    def __init__(self, inner: HardwareGenerator, dataflow: int):
        super().__init__()
        self.inner, self.dataflow, self.default_lr = inner, dataflow, inner.default_lr

    def forward(self, arch_probs: torch.Tensor, bits: torch.Tensor) -> AccelProbs:
        logits = self.inner(arch_probs, bits)
        fixed = torch.full_like(logits[DATAFLOW], -1e4)
        fixed[:, self.dataflow] = 0.0
        return logits[:DATAFLOW] + [fixed] + logits[DATAFLOW + 1 :]


def train_per_dataflow(model: PerDataflowGenerator, *args, **kwargs) -> list[list[float]]:
    """``train_generator`` for every member (same arguments); the losses of each."""
    return [train_generator(model.member(k), *args, **kwargs) for k in range(len(model.members))]


@torch.no_grad()
def select_accelerators(
    model: nn.Module,
    evaluator: CostEvaluator,
    template: CostTemplate,
    objective: dict[str, float],
    arch_probs: torch.Tensor,
    bits: torch.Tensor,
) -> list[Accelerator]:
    """The generator's accelerator per (architecture, bit width); for a ``PerDataflowGenerator`` the
    member whose accelerator the evaluator scores best."""
    if isinstance(model, PerDataflowGenerator):
        model = SelectedMember(model, evaluator, template, objective)
    return generate(model, evaluator, arch_probs, bits)


class SelectedMember(nn.Module):
    """A frozen ``PerDataflowGenerator`` as one module for a search: per architecture, the logits of the
    member whose accelerator the evaluator scores best. The choice carries no gradient; the chosen
    member's logits are differentiable in the architecture probabilities."""

    def __init__(self, model: PerDataflowGenerator, evaluator: CostEvaluator, template: CostTemplate,
                 objective: dict[str, float]):  # fmt: skip
        super().__init__()
        self.model, self.evaluator, self.template, self.objective = model, evaluator, template, objective

    def forward(self, arch_probs: torch.Tensor, bits: torch.Tensor) -> AccelProbs:
        outputs = [self.model.member(k)(arch_probs, bits) for k in range(len(self.model.members))]
        with torch.no_grad():
            scores = torch.stack([
                log_objective(expected_cost(self.evaluator, self.template, arch_probs,
                                            self.evaluator.relax.hard(self.evaluator.relax.argmax(o))),
                              self.objective)
                for o in outputs
            ])  # fmt: skip
            best = scores.argmin(0)
        rows = torch.arange(arch_probs.shape[0])
        return [torch.stack([o[f] for o in outputs])[best, rows] for f in range(len(outputs[0]))]


def random_arch_probs(template: CostTemplate, batch: int, generator: torch.Generator) -> torch.Tensor:
    """Half concrete random archs (one-hot), half soft ones (softmax of scaled noise), over allowed ops."""
    allowed = template.allowed
    scale = torch.rand(batch, 1, 1, generator=generator) * 4
    logits = torch.randn(batch, *allowed.shape, generator=generator) * scale
    logits = logits.masked_fill(~allowed, -math.inf)
    soft = torch.softmax(logits, dim=-1)
    hard = torch.nn.functional.one_hot(soft.argmax(-1), allowed.shape[1]).float()
    pick_hard = (torch.arange(batch) < batch // 2).view(-1, 1, 1)
    return torch.where(pick_hard, hard, soft)


def train_generator(
    model: nn.Module,
    evaluator: CostEvaluator,
    template: CostTemplate,
    objective: dict[str, float],
    steps: int = 1500,
    batch: int = 64,
    lr: float | None = None,
    tau: tuple[float, float] = (2.0, 0.2),
    seed: int = 0,
    arch_sampler: Callable[[int, torch.Generator], torch.Tensor] | None = None,
    progress: bool = True,
    samples: int = 1,
    reinforce_weight: float = 1.0,
) -> list[float]:
    """Minimize the objective of Gumbel-softmax straight-through accelerators (hard forward, soft
    backward) through the frozen evaluator; tau anneals geometrically. Each architecture comes with a
    uniformly drawn bit width, which the generator conditions on. Returns the loss per step.

    Straight-through gradients are local: they cannot tell that changing rows, columns and dataflow
    together beats changing any one of them. With ``samples > 1`` each architecture draws several
    accelerators and a score-function term (REINFORCE, the mean of the draws as baseline) also moves
    probability toward the draws that cost less. (With independent fields it did not escape that trap
    in our runs either; see the README.) ``samples=1`` is plain straight-through."""
    gen = torch.Generator().manual_seed(seed)
    sampler = arch_sampler or (lambda b, g: random_arch_probs(template, b, g))
    evaluator.requires_grad_(False)
    opt = torch.optim.Adam(model.parameters(), lr=lr or model.default_lr)
    losses = []
    for step in tqdm(range(steps), desc="hardware generator", disable=not progress, leave=False):
        t = tau[0] * (tau[1] / tau[0]) ** (step / max(steps - 1, 1))
        arch = sampler(batch, gen)
        bits = random_bits(len(arch), evaluator.relax.sizes[BITS], gen).repeat_interleave(samples, dim=0)
        arch = arch.repeat_interleave(samples, dim=0)
        logits = model(arch, bits)
        accel = with_bits(evaluator.relax.gumbel_straight_through(logits, t, gen), bits)
        cost = log_objective(expected_cost(evaluator, template, arch, accel), objective)
        loss = cost.mean()
        if samples > 1:
            picked = [(g, a) for i, (g, a) in enumerate(zip(logits, accel, strict=True)) if i != BITS]
            log_prob = sum((torch.log_softmax(g, -1) * a.detach()).sum(-1) for g, a in picked)
            advantage = cost.detach().view(-1, samples)
            advantage = (advantage - advantage.mean(1, keepdim=True)).view(-1)
            loss = loss + reinforce_weight * (advantage * log_prob).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(cost.mean().item())
    return losses


@torch.no_grad()
def generate(model: nn.Module, evaluator: CostEvaluator, arch_probs: torch.Tensor,
             bits: torch.Tensor) -> list[Accelerator]:  # fmt: skip
    """The generator's most likely accelerator for each (architecture, bit width)."""
    return evaluator.relax.argmax(model(arch_probs, bits))


@torch.no_grad()
def enumerate_space(
    evaluator: CostEvaluator,
    template: CostTemplate,
    arch_probs: torch.Tensor,
    objective: dict[str, float],
    top_k: int = 10,
    chunk: int = 4096,
    bits: int | None = None,
) -> list[tuple[Accelerator, float]]:
    """Every accelerator of the design space (of bit width ``bits`` only, when given), costed by the
    evaluator for one architecture; the ``top_k`` best as (accelerator, predicted log objective)."""
    relax = evaluator.relax
    idx = relax.all_indices()
    if bits is not None:
        idx = idx[idx[:, BITS] == relax.space.choices("bits").index(bits)]
    scores = []
    for part in idx.split(chunk):
        costs = expected_cost(evaluator, template, arch_probs, relax.from_index_tensor(part))
        scores.append(log_objective(costs, objective))
    scores = torch.cat(scores)
    best = torch.topk(-scores, top_k).indices
    return [(relax.space.from_indices(tuple(int(i) for i in idx[b])), float(scores[b])) for b in best]
