"""Data sources for quantization (``base.py`` says what a source is): the built-in ones register here.

- ``noise``: Gaussian images; ``real``: training images (a reference, not data-free);
- ``zeroq``: images optimized to match the teacher's BatchNorm statistics (ZeroQ);
- ``gdfq``: a class-conditional generator trained on the teacher (GDFQ), and on it
  ``dsg`` (slack distribution alignment + layerwise sample enhancement), ``clusterq`` (class-wise
  centroid alignment of deep features) and ``qimera`` (superposed embeddings with soft labels).
"""

from dfq.sources import clusterq, dsg, gdfq, noise, qimera, real, zeroq  # noqa: F401  (registration)
from dfq.sources.base import SOURCES, Source, SourceContext, register_source

__all__ = [
    "SOURCES",
    "Source",
    "SourceContext",
    "register_source",
    "get_source",
    "source_names",
    "make_source",
]


def get_source(name: str) -> type[Source]:
    return SOURCES.get(name)


def source_names() -> list[str]:
    return SOURCES.names()


def make_source(name: str, teacher, context: SourceContext) -> Source:
    return SOURCES.get(name)(teacher, context)
