"""Error measures for predicted vs. simulated costs (pure functions on 1-D tensors)."""

from __future__ import annotations

import torch


def _ranks(x: torch.Tensor) -> torch.Tensor:
    """Average ranks (ties share the mean rank), 0-based."""
    order = torch.argsort(x)
    ranks = torch.empty_like(x, dtype=torch.float64)
    ranks[order] = torch.arange(len(x), dtype=torch.float64)
    values, inverse = torch.unique(x, return_inverse=True)
    if len(values) < len(x):
        sums = torch.zeros(len(values), dtype=torch.float64).index_add_(0, inverse, ranks)
        counts = torch.bincount(inverse, minlength=len(values)).double()
        ranks = (sums / counts)[inverse]
    return ranks


def spearman(a: torch.Tensor, b: torch.Tensor) -> float:
    ra, rb = _ranks(a.double()), _ranks(b.double())
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denom = ra.norm() * rb.norm()
    return float((ra * rb).sum() / denom) if denom > 0 else float("nan")


def error_summary(predicted: torch.Tensor, actual: torch.Tensor) -> dict[str, float]:
    """MAPE (%), max APE (%), fraction within +-5% and +-10%, Spearman rank correlation."""
    predicted, actual = predicted.double(), actual.double()
    ape = ((predicted - actual).abs() / actual) * 100
    return {
        "n": len(actual),
        "mape_pct": float(ape.mean()),
        "median_ape_pct": float(ape.median()),
        "max_ape_pct": float(ape.max()),
        "within_5pct": float((ape <= 5).double().mean()),
        "within_10pct": float((ape <= 10).double().mean()),
        "spearman": spearman(predicted, actual),
    }
