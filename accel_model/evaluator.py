"""The evaluator network: a differentiable imitation of the simulator (DANCE's cost estimator).

Per (layer, accelerator) it predicts log latency (cycles) and log energy (pJ). It predicts the
residual over an analytic estimate (ideal compute cycles vs. the least DRAM traffic; MAC energy plus
the least DRAM energy), so the network only learns what the memory hierarchy and the mapper add; with
``mapper_base``, latency is the residual over the loop mapper's latency instead (energy keeps the
analytic base: the mapper leaves register files out).
A network's cost is the sum over its layers; area is the exact analytic function (``soft_accel``).

Accelerators enter as probability groups (``AccelProbs``); every input is linear in them, so
predictions are differentiable in soft accelerators and equal the hard prediction at the vertices.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from accel_model.domain import Accelerator, Cost, LayerShape
from accel_model.files import atomic_write_bytes, load_torch_file
from accel_model.layer_features import LAYER_FEATURES, LayerBatch, layer_batch
from accel_model.loop_mapper import MAPPER_FEATURES, layer_table
from accel_model.paths import DEFAULT_EVALUATOR
from accel_model.soft_accel import AccelProbs, AccelRelaxation
from accel_model.space import NUMERIC_FIELDS, DesignSpace
from accel_model.space_tables import at_vertices, expected_grid, expected_pairs
from accel_model.technology import DRAM_BITS_PER_CYCLE, DRAM_PJ_PER_64B, GLB_PORT_BITS, mac_energy_pj

ANALYTIC_FEATURES = (
    "log_compute_cycles", "log_dram_cycles", "log_mac_pj", "log_dram_pj", "log_utilization",
    "log_base_latency", "log_base_energy", "log_footprint_per_glb",
    "log_step_weight_words", "log_step_input_words", "log_step_output_words", "log_step_words",
    "log_step_glb_port_cycles",
)  # fmt: skip
FORMAT = "coexplore-evaluator-v2"


class CostEvaluator(nn.Module):
    """An ensemble of MLPs over [layer features, accelerator groups + expected normalized fields,
    analytic features, and with ``mapper`` the loop mapper's outputs]; each predicts the log residual
    over the analytic base (latency: over the mapper's, with ``mapper_base``)."""

    def __init__(
        self,
        space: DesignSpace | None = None,
        hidden: int = 128,
        depth: int = 3,
        members: int = 1,
        mapper: bool = False,
        mapper_base: bool = False,
    ):
        super().__init__()
        self.space = space or DesignSpace()
        self.relax = AccelRelaxation(self.space)
        self.hidden, self.depth, self.n_members, self.mapper = hidden, depth, members, mapper
        self.mapper_base = mapper and mapper_base  # latency residual over the mapper's, not the analytic
        self._stacked: dict[tuple, tuple] = {}  # see _stacked_tables
        self.in_dim = (
            len(LAYER_FEATURES) + sum(self.relax.sizes) + len(NUMERIC_FIELDS) + len(ANALYTIC_FEATURES)
        ) + (len(MAPPER_FEATURES) + 2 if mapper else 0)
        self.members = nn.ModuleList([self._mlp(hidden, depth) for _ in range(members)])
        self.register_buffer("feature_mean", torch.zeros(self.in_dim))
        self.register_buffer("feature_std", torch.ones(self.in_dim))
        log_mac = [math.log(mac_energy_pj(b)) for b in self.space.bits]
        self.register_buffer("log_mac_pj", torch.tensor(log_mac), persistent=False)

    def _mlp(self, hidden: int, depth: int) -> nn.Sequential:
        layers, width = [], self.in_dim
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.SiLU()]
            width = hidden
        last = nn.Linear(width, 2)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        return nn.Sequential(*layers, last)

    # -- inputs ---------------------------------------------------------------------------------------
    def _accel_parts(self, probs: AccelProbs) -> dict[str, torch.Tensor]:
        r = self.relax
        bits = r.group(probs, "bits")
        return {
            "groups": torch.cat([torch.cat(probs, dim=1), r.expected_normalized(probs)], dim=1),
            "log_bits": r.expected_log(probs, "bits"),
            "log_pes": r.expected_log(probs, "pe_rows") + r.expected_log(probs, "pe_cols"),
            "log_glb_bits": r.expected_log(probs, "glb_kib") + math.log(8192),
            "log_mac_pj": bits @ self.log_mac_pj.to(bits),
        }

    def _mapper_inputs(self, lb: LayerBatch, probs: AccelProbs, grid: bool) -> torch.Tensor | None:
        """The loop mapper's outputs under ``probs``: ``[N, F]`` (pairs) or ``[L, A, F]`` (grid)."""
        if not self.mapper:
            return None
        if len(lb.layers) != len(lb):
            raise ValueError("this evaluator needs the layers themselves (build the batch with layer_batch)")
        unique = list(dict.fromkeys(lb.layers))
        pos = {layer: i for i, layer in enumerate(unique)}
        index = torch.tensor([pos[layer] for layer in lb.layers])
        table = self._stacked_tables(unique, self._array_shapes(probs), probs[0])
        return expected_grid(table, probs)[index] if grid else expected_pairs(table, index, probs)

    def _stacked_tables(self, layers: list[LayerShape], shapes, like: torch.Tensor) -> torch.Tensor:
        """``[U, F, *space]``: the layers' mapper tables, filled for ``shapes``, as one tensor like ``like``.
        The stacked copy is kept while no table gains shapes (searches ask for the same layers each step)."""
        tables = [layer_table(layer, self.space) for layer in layers]
        for table in tables:
            table.fill(shapes)
        key = (tuple(layers), like.dtype, like.device)
        versions = tuple(table.version for table in tables)
        cached = self._stacked.get(key)
        if cached is None or cached[0] != versions:
            if len(self._stacked) >= 2:
                self._stacked.clear()
            cached = self._stacked[key] = (versions, torch.stack([t.table for t in tables]).to(like))
        return cached[1]

    def _array_shapes(self, probs: AccelProbs):
        """The (rows, cols, dataflow) index triples the loop mapper must tabulate for ``probs``: those of
        the accelerators at vertices (and, when gradients are wanted, each field's other values, which
        the vertex gradient reads); None (all) for soft probabilities."""
        if not at_vertices(probs):
            return None
        fields = [self.relax.group(probs, name) for name in ("pe_rows", "pe_cols", "dataflow")]
        vertex = torch.stack([p.argmax(1) for p in fields], dim=1)
        shapes = [vertex]
        if any(p.requires_grad for p in fields):
            for k, p in enumerate(fields):
                for value in range(p.shape[1]):
                    shapes.append(vertex.clone().index_fill_(1, torch.tensor([k]), value))
        return torch.cat(shapes).numpy()

    def _assemble(
        self,
        lb: LayerBatch,
        acc: dict[str, torch.Tensor],
        tables: torch.Tensor,
        grid: bool,
        mapper: torch.Tensor | None = None,
    ):
        """Features and analytic base. Pairs: all ``[N]``; grid: layers ``[L, 1]`` x accels ``[1, A]``;
        ``tables`` are the expected log tables, ``[N, len(TABLES)]`` or ``[L, A, len(TABLES)]``;
        ``mapper`` the loop mapper's outputs (``_mapper_inputs``) or None."""
        log_cycles = tables[..., 0]
        lf, log_macs, log_el = lb.feats, lb.log_macs, lb.log_elements
        a = dict(acc)
        if grid:
            lf, log_macs, log_el = lf[:, None, :], log_macs[:, None], log_el[:, None]
            a = {k: v[None] for k, v in acc.items()}
        log_dram_cycles = log_el + a["log_bits"] - math.log(DRAM_BITS_PER_CYCLE)
        log_mac = log_macs + a["log_mac_pj"]
        log_dram_pj = log_el + a["log_bits"] + math.log(DRAM_PJ_PER_64B / 64)
        base_lat = torch.logaddexp(log_cycles, log_dram_cycles)
        base_energy = torch.logaddexp(log_mac, log_dram_pj)
        analytic = torch.stack(
            torch.broadcast_tensors(
                log_cycles, log_dram_cycles, log_mac, log_dram_pj, log_macs - log_cycles - a["log_pes"],
                base_lat, base_energy, log_el + a["log_bits"] - a["log_glb_bits"],
                *tables[..., 1:].unbind(-1), tables[..., -1] + a["log_bits"] - math.log(GLB_PORT_BITS),
            ),
            dim=-1,
        )  # fmt: skip
        shape = analytic.shape[:-1]
        parts = [lf.expand(*shape, -1), a["groups"].expand(*shape, -1), analytic]
        if mapper is not None:  # its latency and energy also relative to the analytic base
            lat, energy = mapper[..., 0] - base_lat, mapper[..., 1] - base_energy
            parts += [mapper, lat.unsqueeze(-1), energy.unsqueeze(-1)]
            if self.mapper_base:
                base_lat = mapper[..., 0].expand(shape)
        return torch.cat(parts, dim=-1), torch.stack([base_lat, base_energy], dim=-1)

    def member_outputs(self, x: torch.Tensor, base: torch.Tensor) -> torch.Tensor:
        """``[members, ..., 2]``: each ensemble member's prediction (trained independently)."""
        z = (x - self.feature_mean) / self.feature_std
        return torch.stack([base + mlp(z) for mlp in self.members])

    def _head(self, x: torch.Tensor, base: torch.Tensor) -> torch.Tensor:
        """The ensemble's prediction: the mean of the members' log predictions."""
        return self.member_outputs(x, base).mean(0)

    # -- predictions ----------------------------------------------------------------------------------
    def pairs(self, lb: LayerBatch, probs: AccelProbs) -> torch.Tensor:
        """Layer i on accelerator i: ``[N, 2]`` (log latency cycles, log energy pJ)."""
        return self._head(*self.pair_features(lb, probs))

    def pair_features(self, lb: LayerBatch, probs: AccelProbs) -> tuple[torch.Tensor, torch.Tensor]:
        """Raw inputs and analytic base of ``pairs`` (training precomputes them once)."""
        r = self.relax
        tables = torch.einsum(
            "nkrcd,nr,nc,nd->nk", lb.log_tables.to(probs[0]),
            r.group(probs, "pe_rows"), r.group(probs, "pe_cols"), r.group(probs, "dataflow"),
        )  # fmt: skip
        return self._assemble(
            lb, self._accel_parts(probs), tables, grid=False, mapper=self._mapper_inputs(lb, probs, False)
        )

    def grid(self, lb: LayerBatch, probs: AccelProbs) -> torch.Tensor:
        """Every layer on every accelerator: ``[L, A, 2]``."""
        return self.grid_members(lb, probs).mean(0)

    def grid_members(self, lb: LayerBatch, probs: AccelProbs) -> torch.Tensor:
        """Each member's ``grid``: ``[members, L, A, 2]`` (their spread says where the ensemble is unsure)."""
        r = self.relax
        tables = torch.einsum(
            "lkrcd,ar,ac,ad->lak", lb.log_tables.to(probs[0]),
            r.group(probs, "pe_rows"), r.group(probs, "pe_cols"), r.group(probs, "dataflow"),
        )  # fmt: skip
        mapper = self._mapper_inputs(lb, probs, True)
        features = self._assemble(lb, self._accel_parts(probs), tables, grid=True, mapper=mapper)
        return self.member_outputs(*features)

    @torch.no_grad()
    def predict_layers(self, layers: Sequence[LayerShape], accel: Accelerator) -> list[Cost]:
        """Predicted cost of each layer on one accelerator (area: the exact analytic area)."""
        probs = self.relax.hard([accel])
        pred = self.grid(layer_batch(layers, self.space), probs)[:, 0, :].double().exp()
        area = float(self.relax.area_mm2(probs)[0])
        return [Cost(float(lat), float(en), area, accel.clock_mhz) for lat, en in pred.tolist()]

    @torch.no_grad()
    def predict_networks(
        self, networks: Sequence[Sequence[LayerShape]], accels: Sequence[Accelerator]
    ) -> torch.Tensor:
        """``[networks, accels, 2]`` total latency (cycles) and energy (pJ); shared layers predicted once."""
        unique = list(dict.fromkeys(layer for net in networks for layer in net))
        pos = {layer: i for i, layer in enumerate(unique)}
        counts = torch.zeros(len(networks), len(unique), dtype=torch.float64)
        for n, net in enumerate(networks):
            for layer in net:
                counts[n, pos[layer]] += 1
        pred = self.grid(layer_batch(unique, self.space), self.relax.hard(accels)).double().exp()
        return torch.einsum("nu,uak->nak", counts, pred)


def save_evaluator(model: CostEvaluator, path: str | Path, metadata: dict[str, Any]) -> None:
    """One ``.pt`` holding the weights, the design space, the architecture and ``metadata``."""
    payload = {
        "format": FORMAT,
        "state_dict": model.state_dict(),
        "space": model.space.to_dict(),
        "hidden": model.hidden,
        "depth": model.depth,
        "members": model.n_members,
        "mapper": model.mapper,
        "mapper_base": model.mapper_base,
        "metadata": metadata,
    }
    atomic_write_bytes(path, lambda fh: torch.save(payload, fh))


def load_evaluator(path: str | Path = DEFAULT_EVALUATOR) -> CostEvaluator:
    """Rebuild an evaluator from its file alone; ``ValueError`` naming the problem otherwise."""
    path = Path(path)
    blob = load_torch_file(path, "evaluator", " (train one: coexplore evaluator train)")
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise ValueError(f"{path}: not a coexplore evaluator (expected format {FORMAT})")
    space = DesignSpace(**{k: tuple(v) if isinstance(v, list) else v for k, v in blob["space"].items()})
    shape = blob["hidden"], blob["depth"], blob.get("members", 1), blob.get("mapper", False)
    model = CostEvaluator(space, *shape, blob.get("mapper_base", False))
    model.load_state_dict(blob["state_dict"])
    model.metadata = blob["metadata"]
    return model.eval()
