"""Knowledge distillation from the full-precision teacher on the source's batches (``kd``)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from dfq.finetunes.base import FINETUNES, FinetuneMethod
from dfq.settings import DFQSettings


def kd_loss(student: torch.Tensor, teacher: torch.Tensor, labels: torch.Tensor, s: DFQSettings):
    """T^2 * KL(teacher_T || student_T) + ce_weight * CE(student, labels)."""
    t = s.temperature
    kl = F.kl_div(
        F.log_softmax(student / t, 1), F.log_softmax(teacher / t, 1), reduction="batchmean", log_target=True
    )
    loss = t * t * kl
    if s.ce_weight:
        loss = loss + s.ce_weight * F.cross_entropy(student, labels)
    return loss


FINETUNES.add("kd", FinetuneMethod(kd_loss))
