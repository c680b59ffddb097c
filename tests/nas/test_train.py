import json

import pytest
import torch

from nas.data import load_dataset, split_validation
from nas.space import SearchSpace, Stage
from nas.train import TrainConfig, evaluate, load_checkpoint, lr_at, profile_config, train_child

TINY = SearchSpace(stem_channels=8, stages=(Stage(8, 2, 2), Stage(16, 1, 2)), head_channels=32)


def test_lr_schedule_warms_up_then_decays_to_zero():
    lrs = [lr_at(s, 100, 10, 0.1) for s in range(101)]
    assert lrs[0] == pytest.approx(0.01) and lrs[9] == pytest.approx(0.1)
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:], strict=False))
    assert lrs[100] == pytest.approx(0.0)


def test_profiles_and_overrides():
    cfg = profile_config("quick", epochs=3, lr=None)
    assert cfg.epochs == 3 and cfg.lr == TrainConfig().lr
    with pytest.raises(ValueError, match="unknown profile 'fast'"):
        profile_config("fast")
    with pytest.raises(ValueError, match="optimizer must be one of"):
        TrainConfig(optimizer="lamb")
    with pytest.raises(ValueError, match="unknown device"):
        TrainConfig(device="gpu0")
    with pytest.raises(ValueError, match="max_steps_per_epoch must be >= 0"):
        TrainConfig(max_steps_per_epoch=-1)


def test_a_step_cap_ends_each_epoch_early(tmp_path, make_npz):
    splits = split_validation(load_dataset(make_npz(tmp_path / "d.npz", n_train=512, size=16)), 0.25)
    cfg = TrainConfig(epochs=2, batch_size=32, augment=False, max_steps_per_epoch=3)
    train_child(TINY, TINY.default_arch(), splits, cfg, tmp_path / "run", progress=False)
    lines = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["steps"] for r in lines] == [3, 3]  # 384 training images at 32 per batch would be 12


@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
def test_training_learns_writes_run_folder_and_checkpoint_roundtrips(tmp_path, make_npz, optimizer):
    # Two easy classes (bright vs dark images) so that learning is visible after a few steps.
    data = load_dataset(make_npz(tmp_path / "d.npz", n_train=512, n_test=128, size=16, channels=3))
    data.x_train[data.y_train % 2 == 0] //= 4
    data.x_test[data.y_test % 2 == 0] //= 4
    splits = split_validation(data, val_fraction=0.25)
    lr = 0.05 if optimizer == "sgd" else 3e-3
    cfg = TrainConfig(epochs=3, batch_size=32, optimizer=optimizer, lr=lr, augment=True)
    result = train_child(TINY, TINY.default_arch(), splits, cfg, tmp_path / "run", progress=False)
    lines = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in lines] == [1, 2, 3]
    assert result["val_acc"] == max(r["val_acc"] for r in lines)
    assert json.loads((tmp_path / "run" / "result.json").read_text())["test_acc"] == result["test_acc"]
    # random labels within each brightness group: at most ~20% of 10 classes, but brightness gives > chance
    assert result["val_acc"] > 0.15

    model, meta = load_checkpoint(tmp_path / "run" / "best.pt")
    assert meta["arch"] == TINY.default_arch().to_dict() and meta["config"]["optimizer"] == optimizer
    assert evaluate(model, splits.x_val, splits.y_val, splits)["acc"] == pytest.approx(result["val_acc"])
    again, _ = load_checkpoint(tmp_path / "run" / "best.pt")
    x = torch.randn(5, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(model(x), again(x))


@pytest.mark.slow
def test_quick_profile_reaches_91_percent(fashion_mnist, tmp_path):
    space = SearchSpace()
    result = train_child(
        space,
        space.default_arch(),
        split_validation(fashion_mnist),
        profile_config("quick"),
        tmp_path,
        progress=False,
    )
    assert result["test_acc"] >= 0.91


def test_evaluation_shows_a_bar_only_when_asked(tmp_path, make_npz, capsys):
    from nas.model import build_child

    splits = split_validation(load_dataset(make_npz(tmp_path / "d.npz", size=28, channels=1)), 0.1)
    model = build_child(SearchSpace(), SearchSpace().default_arch(), 1, 10)
    quiet = evaluate(model, splits.x_test, splits.y_test, splits, batch_size=10)
    assert capsys.readouterr().err == ""
    shown = evaluate(model, splits.x_test, splits.y_test, splits, batch_size=10, progress="test")
    assert "test" in capsys.readouterr().err and shown == quiet
