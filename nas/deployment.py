"""The deployment input: the network's input as the accelerator runs it, independent of the proxy
dataset it is trained and scored on (Fashion-MNIST is 1x28x28; a camera pipeline may run 3x224x224).

Every cost (evaluator, simulator, hardware generator, constraints) is of the network at this input;
accuracy is of the proxy data. Both are recorded in run folders and tables.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from accel_model.domain import LayerShape
from nas.arch import Arch
from nas.model import build_child
from nas.space import SearchSpace

MAX_SIDE = 4096


@dataclass(frozen=True)
class InputSize:
    channels: int
    height: int
    width: int

    def __post_init__(self) -> None:
        for name in ("channels", "height", "width"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_SIDE:
                raise ValueError(f"input {name} must be an integer in 1..{MAX_SIDE}, got {value!r}")

    @classmethod
    def parse(cls, spec: str, default_channels: int) -> InputSize:
        """``224`` (square, ``default_channels``), ``224x160`` (H x W) or ``3x224x224`` (C x H x W)."""
        parts = str(spec).lower().replace(" ", "").split("x")
        try:
            numbers = [int(p) for p in parts]
        except ValueError:
            raise ValueError(f"input size {spec!r}: use H, HxW or CxHxW, like 224 or 3x224x224") from None
        if len(numbers) == 1:
            return cls(default_channels, numbers[0], numbers[0])
        if len(numbers) == 2:
            return cls(default_channels, *numbers)
        if len(numbers) == 3:
            return cls(*numbers)
        raise ValueError(f"input size {spec!r}: use H, HxW or CxHxW, like 224 or 3x224x224")

    @classmethod
    def of_splits(cls, splits) -> InputSize:
        """The proxy dataset's own input (the default deployment input)."""
        return cls(splits.channels, splits.image_size, splits.image_size)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InputSize:
        return cls(int(data["channels"]), int(data["height"]), int(data["width"]))

    @property
    def hw(self) -> tuple[int, int]:
        return self.height, self.width

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    def label(self) -> str:
        return f"{self.channels}x{self.height}x{self.width}"


def resolve_input(spec: str | None, splits) -> InputSize:
    """``--input-size`` (None: the proxy dataset's own input), with the proxy data's channels by default."""
    return InputSize.of_splits(splits) if spec is None else InputSize.parse(spec, splits.channels)


def deployed_layers(space: SearchSpace, arch: Arch, deploy: InputSize, num_classes: int,
                    batch: int = 1) -> list[LayerShape]:  # fmt: skip
    """The layers of ``arch``'s child as the accelerator runs it at the deployment input."""
    return build_child(space, arch, deploy.channels, num_classes).layer_shapes(deploy.hw, batch)
