"""Neural architecture search: data, search space, child networks, training."""
