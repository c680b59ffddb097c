import torch

from nas.train import load_checkpoint
from nas.zoo import ZOO, build_zoo_model, traced_layer_shapes


def test_resnet20_has_20_weighted_layers_and_traced_shapes_follow_execution():
    model = build_zoo_model("resnet20", 1, 10)
    shapes = traced_layer_shapes(model, 1, 28)
    plain = [s for s in shapes if s.kernel == (3, 3) or (s.in_channels, s.out_channels) == (64, 10)]
    assert len(plain) == 20  # 19 3x3 convs + the classifier
    shortcut = next(s for s in shapes if s.kernel == (1, 1) and s.in_hw != (1, 1))  # first projection
    assert shortcut.in_hw == (28, 28) and shortcut.stride == 2 and shortcut.out_channels == 32
    assert "resnet20" in ZOO


def test_train_model_cli_writes_a_reloadable_zoo_checkpoint(cli, tmp_path, make_npz):
    npz = make_npz(tmp_path / "d.npz", n_train=120, n_test=30, size=28, channels=1, layout="nhw")
    out = tmp_path / "run"
    result = cli(
        "train", "--model", "resnet20", "--profile", "smoke", "--data-dir", npz, "--out", out, "--quiet"
    )
    assert result.exit_code == 0, result.output
    model, meta = load_checkpoint(out / "best.pt")
    assert meta["model"] == "resnet20" and "arch" not in meta
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    quantized = cli("quantize", "--checkpoint", out / "best.pt", "--data-dir", npz, "--source", "dsg",
                    "--profile", "smoke", "--out", tmp_path / "q", "--quiet")  # fmt: skip
    assert quantized.exit_code == 0, quantized.output
