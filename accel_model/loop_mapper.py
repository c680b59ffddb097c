"""An analytic stand-in for ZigZag's temporal mapper (LOMA), tabulated over the whole design space.

ZigZag's latency and energy jump with the accelerator because LOMA orders *whole* loops: it splits each
temporal loop into prime factors, merges them until at most ``lpf_limit`` (4) are left, but never below
one factor per loop dim, so a 3x3 conv with 6 temporal dims keeps every dim whole and a memory level
holds a dim entirely or not at all (``benchmarks/zigzag_smoothness.py`` prints the chosen loops). This
module replays that structure with a simple cost model, so the evaluator can see where the jumps are:

- spatial unrolling as ZigZag runs it: a dim's iterations split evenly over its temporal steps (28
  output columns on 20 PEs run as 2 steps of 14), and a stride that skips pixels (1x1, stride 2)
  touches only every other input pixel; both halve some tiles and traffic against the nominal sizes;
- word widths as ZigZag keeps them: outputs are wide partial sums while a reduction loop is left
  above a level, and final-width words once none is (a whole-tensor output goes to DRAM at 8 bits, not 24);
- loop factors: LOMA's merge rule (the dim with the most factors merges its two smallest);
- every ordering of the factors, innermost first; each operand's register file takes the longest
  innermost run whose tile fits (per PE); the global buffer, shared by the three operands, the longest
  run whose tiles fit together; the rest streams from DRAM;
- traffic: a tile is refetched once per iteration of the loops above it, except a leading run of loops
  irrelevant to the operand (the tile stays); partial sums go back up and come down again;
- latency: the largest of compute cycles, GLB read / write port cycles and DRAM port cycles; energy:
  MACs + GLB and DRAM accesses (register-file traffic is the same for every ordering, so left out);
- per accelerator, the ordering with the least latency x energy (LOMA's criterion here).

It is not ZigZag (no stall windows, no double-buffering rules) and is not meant to match it; its outputs
are inputs of the evaluator network, which learns the rest. ``layer_table`` gives, for one layer,
``MAPPER_FEATURES`` over every accelerator of a ``DesignSpace`` (``[F, *space shape]``), filled on demand.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import lru_cache
from itertools import permutations

import numpy as np
import torch

from accel_model.cacti import sram_cost
from accel_model.domain import LayerShape
from accel_model.mapping import input_span, spatial_operand_words, temporal_steps, unrolled_factors
from accel_model.space import FIELDS, DesignSpace
from accel_model.technology import (
    DRAM_BITS_PER_CYCLE,
    DRAM_PJ_PER_64B,
    GLB_PORT_BITS,
    mac_energy_pj,
    psum_bits,
    rf_split_bits,
)

LPF_LIMIT = 4  # the dataset's LOMA setting
OPERANDS = ("W", "I", "O")
RELEVANT = {"W": {"G", "K", "C", "FY", "FX"}, "I": {"B", "G", "C", "OY", "OX", "FY", "FX"},
            "O": {"B", "G", "K", "OY", "OX"}}  # fmt: skip
MAPPER_FEATURES = (
    "log_latency", "log_energy", "log_glb_read_bits", "log_glb_write_bits", "log_dram_bits",
    "rf_loops_w", "rf_loops_i", "rf_loops_o", "glb_loops", "loops",
)  # fmt: skip


def _prime_factors(n: int) -> list[int]:
    out, d = [], 2
    while d * d <= n:
        while n % d == 0:
            out.append(d)
            n //= d
        d += 1
    return out + ([n] if n > 1 else [])


def loop_factors(temporal: dict[str, int], limit: int = LPF_LIMIT) -> list[tuple[str, int]]:
    """LOMA's loop prime factors after its merge rule (at least one factor per dim)."""
    factors = {dim: _prime_factors(size) for dim, size in temporal.items()}
    limit = max(limit, len(factors))
    count = sum(len(f) for f in factors.values())
    while count > limit:
        dim = max(factors, key=lambda d: len(factors[d]))  # first dim with the most factors
        f = factors[dim]
        factors[dim] = sorted([f[0] * f[1], *f[2:]])
        count -= 1
    return [(dim, f) for dim, fs in factors.items() for f in fs]


def tile_words(operand: str, f: Mapping, stride: int):
    """Words of one operand's tile spanned by loop sizes ``f`` (dim -> size, ints or arrays; absent
    dims are 1), inputs with their halo."""
    g = {d: f.get(d, 1) for d in ("B", "G", "K", "C", "OY", "OX", "FY", "FX")}
    if operand == "W":
        return g["G"] * g["K"] * g["C"] * g["FY"] * g["FX"]
    if operand == "O":
        return g["B"] * g["G"] * g["K"] * g["OY"] * g["OX"]
    return (
        g["B"] * g["G"] * g["C"] * input_span(g["OY"], g["FY"], stride) * input_span(g["OX"], g["FX"], stride)
    )


DIMS = ("B", "G", "K", "C", "OY", "OX", "FY", "FX")


class _Orderings:
    """Per-prefix quantities of every distinct ordering of one layer's loop factors under one spatial
    unrolling: ``[P, n + 1]`` arrays indexed by how many innermost loops a level holds."""

    def __init__(self, factors: list[tuple[str, int]], unrolled: dict[str, int], stride: int):
        orders = sorted(set(permutations(factors))) or [()]
        n = len(orders[0])
        dim_of = np.array([[DIMS.index(d) for d, _ in order] for order in orders], dtype=int)
        size_of = np.array([[f for _, f in order] for order in orders], dtype=float)
        dim_of, size_of = dim_of.reshape(len(orders), n), size_of.reshape(len(orders), n)
        self.n = n
        # loop sizes per dim for every prefix: [P, n + 1, len(DIMS)]
        grow = np.ones((len(orders), n, len(DIMS)))
        np.put_along_axis(grow, dim_of[..., None], size_of[..., None], axis=2)
        cum = np.concatenate([np.ones((len(orders), 1, len(DIMS))), np.cumprod(grow, axis=1)], axis=1)
        spread = np.array([unrolled.get(d, 1) for d in DIMS], dtype=float)
        # suffix products of the loop sizes: loops k.. of every ordering
        suffix = np.concatenate([np.cumprod(size_of[:, ::-1], axis=1)[:, ::-1], np.ones((len(orders), 1))], 1)
        self.iterations_above = suffix  # loops k.. of every ordering: [P, n + 1]
        self.pe, self.array, self.refetch, self.relevant_above = {}, {}, {}, {}
        for op in OPERANDS:
            self.pe[op] = tile_words(op, dict(zip(DIMS, np.moveaxis(cum, -1, 0), strict=True)), stride)
            array = np.moveaxis(cum * spread, -1, 0)
            self.array[op] = tile_words(op, dict(zip(DIMS, array, strict=True)), stride)
            relevant = np.isin(dim_of, [DIMS.index(d) for d in RELEVANT[op]])  # [P, n]
            # the first relevant loop at or above each k (n: none): a leading irrelevant run is free
            first = np.full((len(orders), n + 1), n)
            for k in range(n - 1, -1, -1):
                first[:, k] = np.where(relevant[:, k], k, first[:, k + 1])
            self.refetch[op] = np.take_along_axis(suffix, first, 1)
            kept = np.where(relevant, size_of, 1.0)
            self.relevant_above[op] = np.concatenate(
                [np.cumprod(kept[:, ::-1], axis=1)[:, ::-1], np.ones((len(orders), 1))], 1
            )


def _best_mapping(
    orderings: _Orderings, spatial_words: dict[str, int], compute: float, macs: int, caps: dict
) -> np.ndarray:
    """``[len(MAPPER_FEATURES), C]`` for ``C`` capacity combinations (``caps``: per-combination
    arrays), each at its least latency x energy ordering."""
    o = orderings
    # word width per prefix [C, P, n + 1]: outputs are partial sums while a reduction loop is left above
    final = o.iterations_above == o.relevant_above["O"]
    word_bits = {op: np.broadcast_to(caps["bits"][:, None, None], (len(caps["bits"]), *final.shape))
                 for op in ("W", "I")}  # fmt: skip
    word_bits["O"] = np.where(final[None], caps["bits"][:, None, None], caps["psum_bits"][:, None, None])
    rf_end = {}
    for op in OPERANDS:  # the leading prefixes whose tiles fit (LOMA stops at the first that does not)
        fits = o.pe[op][None, :, 1:] * word_bits[op][..., 1:] <= caps[f"rf_{op}_bits"][:, None, None]
        rf_end[op] = np.cumprod(fits, axis=-1).sum(-1)  # [C, P]
    rows = np.arange(o.pe["W"].shape[0])[None, :]

    def at(table: np.ndarray, k: np.ndarray) -> np.ndarray:
        """``table [P, n + 1]`` (or ``[C, P, n + 1]``) at prefix ``k [C, P]``."""
        if table.ndim == 3:
            return np.take_along_axis(table, k[..., None], -1)[..., 0]
        return table[rows, k]

    ks = np.arange(o.n + 1)[None, None, :]
    need = 0
    for op in OPERANDS:  # an operand's GLB tile spans at least what its register file holds
        floor = at(o.array[op] * word_bits[op], rf_end[op])[..., None]
        held = np.where(ks >= rf_end[op][..., None], o.array[op][None] * word_bits[op], floor)
        need = need + held
    fits = need[..., 1:] <= caps["glb_bits"][:, None, None]
    glb_end = np.cumprod(fits, axis=-1).sum(-1)  # [C, P]: up to the first prefix that does not fit
    read = np.zeros(glb_end.shape)
    write = np.zeros_like(read)
    dram = np.zeros_like(read)

    for op in OPERANDS:
        rf = rf_end[op]
        top = np.maximum(glb_end, rf)
        bits_rf, bits_top = at(word_bits[op], rf), at(word_bits[op], top)
        to_array = at(o.pe[op], rf) * spatial_words[op] * at(o.refetch[op], rf) * bits_rf
        to_glb = at(o.array[op], top) * at(o.refetch[op], top) * bits_top
        if op == "O":  # partial sums: written up every time, read back except on the first pass
            first_array = at(o.pe[op], rf) * spatial_words[op] * at(o.relevant_above[op], rf)
            write += to_array
            read += np.maximum(to_array - first_array * bits_rf, 0)
            first_glb = at(o.array[op], top) * at(o.relevant_above[op], top) * bits_top
            dram += np.maximum(2 * to_glb - first_glb, 0)
        else:
            read += to_array
            write += to_glb
            dram += to_glb
    latency = np.maximum.reduce(
        [np.full_like(read, compute), read / GLB_PORT_BITS, write / GLB_PORT_BITS, dram / DRAM_BITS_PER_CYCLE]
    )
    energy = (
        macs * caps["mac_pj"][:, None]
        + read / GLB_PORT_BITS * caps["glb_read_pj"][:, None]
        + write / GLB_PORT_BITS * caps["glb_write_pj"][:, None]
        + dram / 512 * DRAM_PJ_PER_64B
    )
    best = np.argmin(latency * energy, axis=1)[:, None]  # [C, 1]

    def pick(a: np.ndarray) -> np.ndarray:
        return np.take_along_axis(a, best, 1)[:, 0]

    log = lambda a: np.log(np.maximum(pick(a), 1.0))  # noqa: E731
    return np.stack([
        log(latency), log(energy), log(read), log(write), log(dram),
        pick(rf_end["W"]), pick(rf_end["I"]), pick(rf_end["O"]), pick(glb_end),
        np.full(best.shape[0], o.n),
    ]).astype(np.float32)  # fmt: skip


@lru_cache(maxsize=8)
def _capacities(space: DesignSpace) -> dict[str, np.ndarray]:
    """Per (rf_bytes, glb_kib, bits) combination, flattened in that order."""
    out: dict[str, list] = {k: [] for k in
                            ("rf_W_bits", "rf_I_bits", "rf_O_bits", "glb_bits", "bits", "psum_bits", "mac_pj",
                             "glb_read_pj", "glb_write_pj")}  # fmt: skip
    for rf in space.rf_bytes:
        for glb in space.glb_kib:
            cost = sram_cost(glb * 1024, GLB_PORT_BITS)
            for bits in space.bits:
                split = rf_split_bits(rf, bits)
                for op in OPERANDS:
                    out[f"rf_{op}_bits"].append(split[op])
                out["glb_bits"].append(glb * 1024 * 8)
                out["bits"].append(bits)
                out["psum_bits"].append(psum_bits(bits))
                out["mac_pj"].append(mac_energy_pj(bits))
                out["glb_read_pj"].append(cost.read_pj)
                out["glb_write_pj"].append(cost.write_pj)
    return {k: np.asarray(v, dtype=float) for k, v in out.items()}


class LayerTable:
    """``MAPPER_FEATURES`` of one layer on every accelerator, ``[F, rows, cols, rf, glb, dataflow, bits]``
    (the ``FIELDS`` order), filled one array shape (rows, cols, dataflow) at a time, on demand: a lookup
    on a few accelerators costs a few array shapes, not the whole space."""

    def __init__(self, layer: LayerShape, space: DesignSpace):
        self.layer, self.space = layer, space
        shape = [len(space.choices(name)) for name in FIELDS]
        self.table = torch.zeros([len(MAPPER_FEATURES), *shape])
        self.filled = np.zeros(shape[:2] + shape[4:5], dtype=bool)  # per (rows, cols, dataflow)
        self.version = 0  # grows whenever shapes are filled (lets callers cache copies of the table)
        self._by_unrolling: dict[tuple, np.ndarray] = {}

    def fill(self, shapes: np.ndarray | None = None) -> torch.Tensor:
        """Fill ``shapes`` (an index array ``[k, 3]`` of (rows, cols, dataflow); None: all) and return
        the table."""
        if shapes is None:
            todo = np.argwhere(~self.filled)
        else:  # usually all filled already: check that first, deduplicate only what is left
            todo = shapes[~self.filled[tuple(np.asarray(shapes).T)]] if len(shapes) else np.empty((0, 3), int)
            todo = np.unique(todo, axis=0) if len(todo) else todo
        if len(todo):
            self.version += 1
        space, layer = self.space, self.layer
        n_rf, n_glb, n_bits = len(space.rf_bytes), len(space.glb_kib), len(space.bits)
        for i, j, d in todo.tolist():
            rows, cols, flow = space.pe_rows[i], space.pe_cols[j], space.dataflow[d]
            unrolled = unrolled_factors(layer, rows, cols, flow, even=True)
            key = tuple(sorted(unrolled.items()))
            if key not in self._by_unrolling:
                steps = temporal_steps(layer, rows, cols, flow)
                temporal = {k: v for k, v in steps.items() if v > 1}
                words = spatial_operand_words(layer, rows, cols, flow, even=True)
                words = dict(zip(OPERANDS, words, strict=True))
                orderings = _Orderings(loop_factors(temporal), unrolled, layer.stride)
                compute = float(math.prod(temporal.values()))
                self._by_unrolling[key] = _best_mapping(
                    orderings, words, compute, layer.macs, _capacities(space)
                )
            block = self._by_unrolling[key].reshape(len(MAPPER_FEATURES), n_rf, n_glb, n_bits)
            self.table[:, i, j, :, :, d, :] = torch.from_numpy(block)
            self.filled[i, j, d] = True
        return self.table


@lru_cache(maxsize=1024)
def layer_table(layer: LayerShape, space: DesignSpace) -> LayerTable:
    """The (lazily filled) table of ``layer``, one per (layer, space) in a process."""
    return LayerTable(layer, space)
