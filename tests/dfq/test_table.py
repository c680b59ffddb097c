import copy

import pytest
import torch
from torch import nn

from dfq.table import TeacherMismatch, check_same_teacher, teacher_fingerprint


def small_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.LazyLinear(3))


def test_fingerprint_follows_the_numbers_not_the_object():
    net = small_net()
    net(torch.zeros(1, 1, 6, 6))  # materialize the lazy layer
    same = copy.deepcopy(net)
    assert teacher_fingerprint(net) == teacher_fingerprint(same)
    with torch.no_grad():
        same[0].weight[0, 0, 0, 0] += 1e-6  # one value in one weight
    assert teacher_fingerprint(net) != teacher_fingerprint(same)
    same.load_state_dict(net.state_dict())
    assert teacher_fingerprint(net) == teacher_fingerprint(same)


def test_rows_of_another_or_no_teacher_are_refused(tmp_path):
    check_same_teacher([], "aaaa", tmp_path / "r.csv")  # nothing to mix with
    check_same_teacher([{"teacher": "aaaa"}], "aaaa", tmp_path / "r.csv")
    for rows in ([{"teacher": "bbbb"}], [{"teacher": "aaaa"}, {"teacher": "bbbb"}], [{"fp_test_acc": "0.9"}]):
        with pytest.raises(TeacherMismatch, match="different teacher"):
            check_same_teacher(rows, "aaaa", tmp_path / "r.csv")
