"""Qimera (Choi et al. 2021) on the class-conditional generator: superposed latent embeddings.

With probability ``qimera_p`` a sample's embedding mixes ``qimera_classes`` distinct class embeddings
with coefficients softmax(randn), and its label is the matching soft vector (those coefficients at those
classes); otherwise it is one class, one-hot. The generator is trained with the soft cross-entropy, so
it learns samples near the teacher's decision boundaries, and the student distils on them with the soft
labels. A disentanglement mapping layer (a learned linear map) sits between the mixed embedding and the
generator, so the mixture in embedding space need not be a mixture in the generator's input space.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from dfq.sources.base import register_source
from dfq.sources.gdfq import GDFQSource, Generator, GeneratorConfig


@dataclass(frozen=True)
class QimeraConfig(GeneratorConfig):
    # probability that a sample's embedding superposes ``qimera_classes`` class embeddings
    qimera_p: float = 0.4
    qimera_classes: int = 2

    def __post_init__(self) -> None:
        super().__post_init__()
        self._check(unit=("qimera_p",))
        if self.qimera_classes < 2:
            raise ValueError(f"qimera_classes must be >= 2, got {self.qimera_classes}")


def superposed_labels(n: int, num_classes: int, p: float, k: int, gen: torch.Generator) -> torch.Tensor:
    """``[n, num_classes]`` soft labels: rows one-hot, or (probability p) k classes mixed by
    softmax(randn(k)) coefficients."""
    labels = torch.zeros(n, num_classes)
    mixed = torch.rand(n, generator=gen) < p
    for i in range(n):
        if mixed[i]:
            classes = torch.randperm(num_classes, generator=gen)[:k]
            labels[i, classes] = torch.softmax(torch.randn(k, generator=gen), 0)
        else:
            labels[i, int(torch.randint(num_classes, (1,), generator=gen))] = 1.0
    return labels


class QimeraGenerator(Generator):
    def __init__(self, latent_dim, num_classes, channels, size, p: float, k: int, width: int = 64):
        super().__init__(latent_dim, num_classes, channels, size, width)
        self.p, self.k = p, min(k, num_classes)
        self.mapping = nn.Linear(latent_dim, latent_dim)  # the disentanglement mapping layer

    def embedding(self, soft_labels: torch.Tensor) -> torch.Tensor:
        """The mapped mixture of class embeddings: ``mapping(soft_labels @ E)``."""
        return self.mapping(soft_labels @ self.embed.weight)

    def sample(self, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.draw(gen, n, self.latent_dim)
        labels = superposed_labels(n, self.num_classes, self.p, self.k, gen).to(z.device)
        return self.from_embedding(z, self.embedding(labels)), labels


@register_source("qimera")
class QimeraSource(GDFQSource):
    config_class = QimeraConfig

    def make_generator(self) -> Generator:
        ctx, c = self.context, self.config
        channels, size, _ = ctx.input_shape
        return QimeraGenerator(c.latent_dim, ctx.num_classes, channels, size, c.qimera_p, c.qimera_classes)
