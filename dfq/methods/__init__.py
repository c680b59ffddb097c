"""The published data-free methods, one module each, registered into the shared registries so any
synthetic source composes with any fine-tuning (``coexplore quantize --source qimera --finetune ait``):

- ``dsg``: Diverse Sample Generation (slack distribution alignment + layerwise sample enhancement);
- ``clusterq``: class-wise centroid alignment of deep-layer feature statistics (+ diversity);
- ``qimera``: superposed latent embeddings with soft labels, and a disentanglement mapping layer;
- ``ait``: KL-only distillation with gradient inundation (a fine-tuning, not a source).
"""

from dfq.methods import ait, clusterq, dsg, qimera  # noqa: F401  (registration side effect)
