"""``Arch``: a child network of the search space, one op name per searchable layer."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Arch:
    ops: tuple[str, ...]

    def __post_init__(self) -> None:
        ops = tuple(self.ops)
        if not ops or not all(isinstance(op, str) and op for op in ops):
            raise ValueError(f"Arch.ops must be a non-empty list of op names, got {self.ops!r}")
        object.__setattr__(self, "ops", ops)

    def __len__(self) -> int:
        return len(self.ops)

    def to_dict(self) -> dict:
        return {"ops": list(self.ops)}

    @classmethod
    def from_dict(cls, data: Any) -> Arch:
        if isinstance(data, list):
            return cls(tuple(data))
        if not isinstance(data, dict) or set(data) != {"ops"}:
            raise ValueError('an Arch is a JSON object {"ops": [op names...]} or a list of op names')
        return cls(tuple(data["ops"]))

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> Arch:
        return cls.from_dict(json.loads(Path(path).read_text()))
