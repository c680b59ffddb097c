"""The simulator tables the evaluator learns from: the uniform sample and its targeted extensions.

``coexplore dataset build`` writes the uniform sample; ``dataset refine``, ``extend`` and ``disagree``
write the extensions (each leaves out the held-out report's accelerators); ``evaluator train`` reads
``TRAINING_TABLES`` by default, those that exist."""

from __future__ import annotations

from accel_model.paths import PACKAGE_DATA

DEFAULT_DATASET = PACKAGE_DATA / "zigzag_dataset.csv.gz"
REFINE_TABLE = PACKAGE_DATA / "zigzag_refine.csv.gz"
COMMON_TABLE = PACKAGE_DATA / "zigzag_common.csv.gz"
MOBILENET_RESNET20_TABLE = PACKAGE_DATA / "zigzag_mobilenet_resnet20.csv.gz"
DISAGREEMENT_TABLE = PACKAGE_DATA / "zigzag_disagreement.csv.gz"
DISAGREEMENT_RESNET18_TABLE = PACKAGE_DATA / "zigzag_disagreement_resnet18.csv.gz"  # the second round
TRAINING_TABLES = (DEFAULT_DATASET, REFINE_TABLE, COMMON_TABLE, MOBILENET_RESNET20_TABLE, DISAGREEMENT_TABLE,
                   DISAGREEMENT_RESNET18_TABLE)  # fmt: skip

# The held-out report's defaults (``coexplore evaluator report``). `dataset refine` / `extend` / `disagree`
# exclude the first RESERVED_ACCELS of its draw (those of `evaluator report --accels 30`), so a larger
# report stays unseen as the tables grow.
HELDOUT_ACCELS, HELDOUT_SEED, RESERVED_ACCELS = 10, 1, 30


def existing_training_tables() -> tuple[str, ...]:
    """The training tables present on disk (at least the uniform sample's path)."""
    return tuple(str(p) for p in TRAINING_TABLES if p.exists()) or (str(DEFAULT_DATASET),)
