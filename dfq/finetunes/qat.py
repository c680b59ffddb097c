"""Quantization-aware training on real labels (``qat``): the reference, with the real-data source only."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from dfq.finetunes.base import FINETUNES, FinetuneMethod
from dfq.settings import DFQSettings


def ce_loss(student: torch.Tensor, _teacher: torch.Tensor, labels: torch.Tensor, _s: DFQSettings):
    return F.cross_entropy(student, labels)


FINETUNES.add("qat", FinetuneMethod(ce_loss, needs_real_labels=True))
