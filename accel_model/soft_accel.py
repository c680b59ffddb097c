"""Accelerators as probability vectors over the ``DesignSpace`` (one group per field).

A hard accelerator is the one-hot vertex of the relaxation. Everything here is linear in each group's
probabilities (an expectation under independent fields), so it is differentiable and equals the hard
value exactly at the vertices.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from accel_model.cacti import sram_cost
from accel_model.domain import Accelerator
from accel_model.space import FIELDS, NUMERIC_FIELDS, DesignSpace
from accel_model.technology import GLB_PORT_BITS, RF_UM2_PER_BIT, mac_area_um2, rf_split_bits

AccelProbs = list[torch.Tensor]  # one [A, len(choices)] tensor per field, in FIELDS order


class AccelRelaxation:
    """Value tables of one ``DesignSpace`` as tensors, and the maths on probability groups."""

    def __init__(self, space: DesignSpace | None = None):
        self.space = space or DesignSpace()
        s = self.space
        self.sizes = [len(s.choices(name)) for name in FIELDS]
        self.log_values = {
            name: torch.tensor([math.log(v) for v in s.choices(name)], dtype=torch.float32)
            for name in NUMERIC_FIELDS
        }
        self.normalized = {}
        for name, logs in self.log_values.items():
            span = float(logs.max() - logs.min())
            self.normalized[name] = (logs - logs.min()) / span if span > 0 else torch.zeros_like(logs)
        # Area of one PE (MAC + its register-file bits) per (rf_bytes, bits), and of the global buffer.
        self.pe_um2 = torch.tensor(
            [
                [mac_area_um2(b) + sum(rf_split_bits(rf, b).values()) * RF_UM2_PER_BIT for b in s.bits]
                for rf in s.rf_bytes
            ],
            dtype=torch.float64,
        )
        self.glb_mm2 = torch.tensor(
            [sram_cost(kib * 1024, GLB_PORT_BITS).area_mm2 for kib in s.glb_kib], dtype=torch.float64
        )
        self.rows = torch.tensor(s.pe_rows, dtype=torch.float64)
        self.cols = torch.tensor(s.pe_cols, dtype=torch.float64)

    def group(self, probs: AccelProbs, name: str) -> torch.Tensor:
        return probs[FIELDS.index(name)]

    def hard(self, accels: Sequence[Accelerator]) -> AccelProbs:
        """One-hot groups for concrete accelerators, each ``[A, n_choices]``."""
        idx = torch.tensor([self.space.indices(a) for a in accels], dtype=torch.long).reshape(-1, len(FIELDS))
        return self.from_index_tensor(idx)

    def all_indices(self) -> torch.Tensor:
        """Every accelerator of the space as a ``[space.size, len(FIELDS)]`` index tensor."""
        grids = torch.meshgrid(*[torch.arange(n) for n in self.sizes], indexing="ij")
        return torch.stack([g.reshape(-1) for g in grids], dim=1)

    def from_index_tensor(self, idx: torch.Tensor) -> AccelProbs:
        return [F.one_hot(idx[:, i], n).float() for i, n in enumerate(self.sizes)]

    def expected_log(self, probs: AccelProbs, name: str) -> torch.Tensor:
        """E[log value] of a numeric field, ``[A]``."""
        g = self.group(probs, name)
        return g @ self.log_values[name].to(g)

    def expected_normalized(self, probs: AccelProbs) -> torch.Tensor:
        """``[A, len(NUMERIC_FIELDS)]``: E[log value] scaled to [0, 1] over the space."""
        return torch.stack(
            [self.group(probs, n) @ self.normalized[n].to(probs[0]) for n in NUMERIC_FIELDS], dim=1
        )

    def area_mm2(self, probs: AccelProbs) -> torch.Tensor:
        """Expected chip area, ``[A]``: E[rows] E[cols] E[PE area] + E[GLB area] (exact at vertices)."""
        dtype = probs[0].dtype
        rows = self.group(probs, "pe_rows") @ self.rows.to(dtype)
        cols = self.group(probs, "pe_cols") @ self.cols.to(dtype)
        pe = torch.einsum(
            "ar,rb,ab->a", self.group(probs, "rf_bytes"), self.pe_um2.to(dtype), self.group(probs, "bits")
        )
        glb = self.group(probs, "glb_kib") @ self.glb_mm2.to(dtype)
        return rows * cols * pe * 1e-6 + glb

    def argmax(self, probs_or_logits: AccelProbs) -> list[Accelerator]:
        idx = torch.stack([g.argmax(dim=-1) for g in probs_or_logits], dim=-1).reshape(-1, len(FIELDS))
        return [self.space.from_indices(tuple(int(i) for i in row)) for row in idx]

    def gumbel_straight_through(
        self, logits: AccelProbs, tau: float = 1.0, generator: torch.Generator | None = None
    ) -> AccelProbs:
        """Hard one-hot samples in the forward pass, Gumbel-softmax gradients in the backward pass."""
        out = []
        for g in logits:
            u = torch.rand(g.shape, generator=generator, dtype=g.dtype).clamp_(1e-9, 1 - 1e-9)
            soft = F.softmax((g - torch.log(-torch.log(u))) / tau, dim=-1)
            hard = F.one_hot(soft.argmax(dim=-1), g.shape[-1]).to(soft)
            out.append(hard + (soft - soft.detach()))  # exactly one-hot in value, soft gradient
        return out
