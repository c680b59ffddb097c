import math
from itertools import permutations

import numpy as np
import pytest
import torch

from accel_model.cacti import sram_cost
from accel_model.domain import Accelerator, LayerShape
from accel_model.loop_mapper import (
    MAPPER_FEATURES,
    RELEVANT,
    LayerTable,
    layer_table,
    loop_factors,
    tile_words,
)
from accel_model.mapping import spatial_operand_words, temporal_steps, unrolled_factors
from accel_model.space import FIELDS, DesignSpace
from accel_model.technology import GLB_PORT_BITS, mac_energy_pj, psum_bits, rf_split_bits

SMALL = DesignSpace(pe_rows=(8, 20), pe_cols=(8, 20), rf_bytes=(16, 256, 512), glb_kib=(32, 256),
                    bits=(8, 16))  # fmt: skip
CONV = LayerShape(128, 128, 3, 1, 1, (28, 28))  # benchmarks/zigzag_smoothness.py's layer


def test_loma_merge_rule():
    # more dims than the limit: each dim stays one whole loop
    dims = {"K": 128, "C": 64, "OY": 2, "OX": 2, "FY": 3, "FX": 3}
    assert loop_factors(dims) == list(dims.items())
    # 2^6 and 2^3: the dim with the most factors merges its two smallest, until 4 are left
    assert loop_factors({"K": 64, "C": 8}) == [("K", 4), ("K", 16), ("C", 2), ("C", 4)]
    assert loop_factors({"K": 12}) == [("K", 2), ("K", 2), ("K", 3)]


def _reference(layer: LayerShape, accel: Accelerator) -> tuple[float, float, float, float, float]:
    """The same model written loop by loop: every ordering, greedy allocation, least latency x energy."""
    shape = (layer, accel.pe_rows, accel.pe_cols, accel.dataflow)
    # ZigZag's even split: each unrolled dim covers size / (its temporal steps) PEs
    unrolled = unrolled_factors(*shape, even=True)
    temporal = {d: n for d, n in temporal_steps(*shape).items() if n > 1}
    split = rf_split_bits(accel.rf_bytes, accel.bits)
    words = spatial_operand_words(*shape, even=True)
    spatial = dict(zip("WIO", words, strict=True))
    sram = sram_cost(accel.glb_kib * 1024, GLB_PORT_BITS)

    def loops(order, k, base=None):
        f = dict(base or {})
        for d, n in order[:k]:
            f[d] = f.get(d, 1) * n
        return f

    def above(op, order, k, relevant_only=False):
        rest = order[k:]
        if relevant_only:
            return math.prod(n for d, n in rest if d in RELEVANT[op])
        while rest and rest[0][0] not in RELEVANT[op]:
            rest = rest[1:]
        return math.prod(n for _, n in rest)

    def word_bits(op, order, k):  # outputs are final once no reduction loop is left above
        final = op != "O" or all(d in RELEVANT["O"] for d, _ in order[k:])
        return accel.bits if final else psum_bits(accel.bits)

    def tile_bits(op, order, k, base=None):
        return tile_words(op, loops(order, k, base), layer.stride) * word_bits(op, order, k)

    def glb_bits(order, rf, k):
        return sum(tile_bits(op, order, max(k, rf[op]), unrolled) for op in "WIO")

    best = None
    for order in set(permutations(loop_factors(temporal))):
        rf = {}
        for op in "WIO":  # the longest innermost run that fits, stopping at the first that does not
            k = 0
            while k < len(order) and tile_bits(op, order, k + 1) <= split[op]:
                k += 1
            rf[op] = k
        q = 0
        while q < len(order) and glb_bits(order, rf, q + 1) <= accel.glb_kib * 8192:
            q += 1
        glb = {op: max(q, rf[op]) for op in "WIO"}
        read = write = dram = 0.0
        for op in "WIO":
            to_array = (
                tile_words(op, loops(order, rf[op]), layer.stride)
                * spatial[op]
                * word_bits(op, order, rf[op])
            )
            to_glb = tile_bits(op, order, glb[op], unrolled)
            if op == "O":
                write += to_array * above(op, order, rf[op])
                read += max(to_array * (above(op, order, rf[op]) - above(op, order, rf[op], True)), 0)
                dram += max(to_glb * (2 * above(op, order, glb[op]) - above(op, order, glb[op], True)), 0)
            else:
                read += to_array * above(op, order, rf[op])
                write += to_glb * above(op, order, glb[op])
                dram += to_glb * above(op, order, glb[op])
        latency = max(math.prod(temporal.values()), read / 256, write / 256, dram / 64)
        energy = layer.macs * mac_energy_pj(accel.bits) + (read * sram.read_pj + write * sram.write_pj) / 256
        energy += dram / 512 * 1300.0
        if best is None or latency * energy < best[0]:
            best = (latency * energy, latency, energy, read, write, dram)
    return best[1:]


# the last one fits the 20x20 array whole on WS: no temporal loop at all
LAYERS = [CONV, LayerShape(32, 64, 1, 2, 1, (14, 14)), LayerShape(48, 48, 3, 1, 48, (14, 14)),
          LayerShape(8, 16, 1, 1, 1, (1, 1))]  # fmt: skip


@pytest.mark.parametrize("layer", LAYERS)
def test_tables_agree_with_a_loop_by_loop_reference(layer):
    table = layer_table(layer, SMALL).fill()
    assert tuple(table.shape) == (len(MAPPER_FEATURES), *(len(SMALL.choices(f)) for f in FIELDS))
    for accel in [Accelerator(20, 20, 256, 256, "OS", 8), Accelerator(8, 20, 16, 32, "WS", 16),
                  Accelerator(20, 8, 512, 32, "RS", 8), Accelerator(8, 8, 16, 256, "OS", 16)]:  # fmt: skip
        index = tuple(SMALL.choices(f).index(getattr(accel, f)) for f in FIELDS)
        got = table[(slice(None), *index)][:5].double().exp()
        for value, expected in zip(got.tolist(), _reference(layer, accel), strict=True):
            assert value == pytest.approx(max(expected, 1.0), rel=1e-4)


def test_whole_loops_make_the_jumps_zigzag_makes():
    """ZigZag (benchmarks/out/zigzag_smoothness.json): 1.63M cycles with a 256 B RF, 0.62M with 512 B
    (the input RF then holds all 128 input channels), and more cycles at 16-bit than at 8-bit."""
    table = layer_table(CONV, SMALL).fill()

    def latency(**fields):
        accel = {"pe_rows": 20, "pe_cols": 20, "rf_bytes": 256, "glb_kib": 256, "dataflow": "OS", "bits": 8}
        accel |= fields
        return table[(0, *(SMALL.choices(f).index(accel[f]) for f in FIELDS))].exp().item()

    assert latency(rf_bytes=512) < 0.6 * latency(rf_bytes=256)
    assert latency(bits=16) > latency(bits=8)


def test_tables_fill_only_the_array_shapes_asked_for():
    lazy = LayerTable(CONV, SMALL)
    lazy.fill(np.array([[1, 0, 2], [1, 0, 2]]))
    assert lazy.filled.sum() == 1
    full = layer_table(CONV, SMALL).fill()
    assert torch.equal(lazy.table[:, 1, 0, :, :, 2], full[:, 1, 0, :, :, 2])
    assert not lazy.table[:, 0, 0].any()


def test_outputs_leave_at_final_width_when_no_reduction_is_left():
    """A layer that fits the array whole moves each tensor once, outputs at 8 bits, not as 24-bit partial
    sums (ZigZag's O_final precision)."""
    fc = LayerShape(8, 16, 1, 1, 1, (1, 1))
    table = layer_table(fc, SMALL).fill()
    accel = Accelerator(20, 20, 256, 256, "WS", 8)
    index = tuple(SMALL.choices(f).index(getattr(accel, f)) for f in FIELDS)
    dram_bits = table[(MAPPER_FEATURES.index("log_dram_bits"), *index)].exp().item()
    assert dram_bits == pytest.approx((8 + 8 * 16 + 16) * 8, rel=1e-5)
