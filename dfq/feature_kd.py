"""Feature distillation for fine-tuning: the student's quantized layers imitate the teacher's outputs.

KD on ten logits tells the student little per synthetic image; the outputs of every quantized conv
and linear tell it much more. ``FeatureMatch(student, teacher)`` hooks the output of every quantized
layer of the student (``QuantWrapper``) but the classifier, and of the teacher's layer of the same name.
After a teacher and a student forward pass on the same batch, ``loss()`` is the mean over those layers
of the squared error normalized by the teacher output's variance (so that every layer weighs alike).
Use as a context manager: leaving takes the hooks off.
"""

from __future__ import annotations

import torch
from torch import nn

from dfq.hooks import ForwardHooks
from dfq.quant_model import QuantWrapper


class FeatureMatch(ForwardHooks):
    def __init__(self, student: nn.Module, teacher: nn.Module):
        names = [name for name, m in student.named_modules() if isinstance(m, QuantWrapper)][:-1]
        if not names:
            raise ValueError("feature distillation needs a quantized layer before the classifier")
        self.student_out: dict[str, torch.Tensor] = {}
        self.teacher_out: dict[str, torch.Tensor] = {}
        self.handles = [
            model.get_submodule(name).register_forward_hook(self._recorder(store, name))
            for name in names
            for model, store in ((student, self.student_out), (teacher, self.teacher_out))
        ]
        self.names = names

    @staticmethod
    def _recorder(store: dict[str, torch.Tensor], name: str):
        def hook(_module, _inputs, output: torch.Tensor) -> None:
            store[name] = output

        return hook

    def loss(self) -> torch.Tensor:
        missing = [n for n in self.names if n not in self.student_out or n not in self.teacher_out]
        if missing:
            raise RuntimeError(f"no forward pass of both networks went through {missing[0]}")
        terms = []
        for name in self.names:
            target = self.teacher_out[name].detach()
            terms.append((self.student_out[name] - target).pow(2).mean() / target.var().clamp_min(1e-8))
        return torch.stack(terms).mean()
