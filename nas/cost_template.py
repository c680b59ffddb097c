"""The search space as the accelerator sees it (``accel_model.expected_cost.CostTemplate``)."""

from __future__ import annotations

from accel_model.expected_cost import CostTemplate
from nas.model import build_child, conv_layer_shapes
from nas.ops import get_op
from nas.space import SearchSpace


def cost_template(
    space: SearchSpace, input_hw: int | tuple[int, int], in_channels: int = 1, num_classes: int = 10
) -> CostTemplate:
    """Fixed layers (stem, head, classifier) and every allowed op's layers at every slot, for an input of
    ``input_hw`` pixels (square when an int) with ``in_channels`` channels."""
    child = build_child(space, space.default_arch(), in_channels, num_classes)
    hw = (input_hw, input_hw) if isinstance(input_hw, int) else tuple(input_hw)
    stem = conv_layer_shapes(list(child.stem.modules()), hw, 1)
    hw = stem[-1].out_hw
    options = []
    for slot, block in zip(space.slots(), child.blocks, strict=True):
        row = []
        for op in space.ops:
            if op not in slot.allowed_ops:
                row.append(None)
                continue
            module = get_op(op).build(slot.c_in, slot.c_out, slot.stride, space.act)
            row.append(tuple(conv_layer_shapes(list(module.modules()), hw, 1)))
        options.append(tuple(row))
        hw = conv_layer_shapes(list(block.modules()), hw, 1)[-1].out_hw
    tail = conv_layer_shapes(list(child.head.modules()) + [child.classifier], hw, 1)
    return CostTemplate(tuple(stem + tail), tuple(options), tuple(space.ops))
