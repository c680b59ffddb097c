import torch

from accel_model.soft_accel import AccelRelaxation
from accel_model.space_tables import _joint, at_vertices, expected_grid, expected_pairs

SIZES = [3, 2, 4, 2, 3, 2]


def _table():
    return torch.randn(5, 4, *SIZES, generator=torch.Generator().manual_seed(0), dtype=torch.float64)


def _one_hot(n, seed):
    g = torch.Generator().manual_seed(seed)
    return [torch.nn.functional.one_hot(torch.randint(0, s, (n,), generator=g), s).double() for s in SIZES]


def _multilinear(table, probs):
    """The definition: sum over accelerators of the entry times its joint probability."""
    return torch.einsum("ufs,as->uaf", table.reshape(*table.shape[:2], -1), _joint(probs))


def test_vertices_are_lookups_with_the_multilinear_gradient():
    table, hard, weights = _table(), _one_hot(7, 1), torch.randn(5, 7, 4, dtype=torch.float64)
    vertex = tuple(p[3].argmax() for p in hard)
    assert torch.equal(expected_grid(table, hard)[2, 3], table[(2, slice(None), *vertex)])
    lookup = [p.clone().requires_grad_() for p in hard]
    reference = [p.clone().requires_grad_() for p in hard]
    (expected_grid(table, lookup) * weights).sum().backward()
    (_multilinear(table, reference) * weights).sum().backward()
    for a, b in zip(lookup, reference, strict=True):
        assert torch.allclose(a.grad, b.grad) and a.grad.abs().sum() > 0


def test_soft_probabilities_follow_the_definition():
    table = _table()
    g = torch.Generator().manual_seed(2)
    soft = [torch.softmax(torch.randn(20, s, generator=g, dtype=torch.float64), 1) for s in SIZES]
    assert torch.allclose(expected_grid(table, soft), _multilinear(table, soft))


def test_pairs_are_the_diagonal_of_the_grid_with_the_same_gradients():
    table, index = _table(), torch.tensor([4, 0, 2, 2, 1, 3, 0])
    rows = torch.arange(7)
    for probs in (_one_hot(7, 3), [torch.softmax(torch.randn(7, s, dtype=torch.float64), 1) for s in SIZES]):
        assert torch.allclose(expected_pairs(table, index, probs), expected_grid(table, probs)[index, rows])
    hard, weights = _one_hot(7, 4), torch.randn(7, 4, dtype=torch.float64)
    lookup = [p.clone().requires_grad_() for p in hard]
    reference = [p.clone().requires_grad_() for p in hard]
    (expected_pairs(table, index, lookup) * weights).sum().backward()
    (_multilinear(table, reference)[index, rows] * weights).sum().backward()
    for a, b in zip(lookup, reference, strict=True):
        assert torch.allclose(a.grad, b.grad)


def test_straight_through_one_hots_count_as_vertices():
    hard = [h.float() for h in _one_hot(50, 5)]
    soft = [torch.softmax(torch.randn(50, s), 1) for s in SIZES]
    straight = [h + s - s.detach() for h, s in zip(hard, soft, strict=True)]  # as gumbel_straight_through
    assert not all(torch.equal(a, b) for a, b in zip(straight, hard, strict=True))  # rounding
    assert at_vertices(straight) and at_vertices(hard) and not at_vertices(soft)
    assert not at_vertices([torch.ones(2, 3, dtype=torch.float64)] + hard[1:])


def test_gumbel_straight_through_is_exactly_one_hot_in_value():
    relax = AccelRelaxation()
    g = torch.Generator().manual_seed(0)
    logits = [torch.randn(50, s, generator=g, requires_grad=True) for s in relax.sizes]
    probs = relax.gumbel_straight_through(logits, 1.0, g)
    assert all(bool(((p == 0) | (p == 1)).all()) and bool((p.sum(1) == 1).all()) for p in probs)
    sum((p * torch.randn_like(p)).sum() for p in probs).backward()
    assert all(z.grad.abs().sum() > 0 for z in logits)
