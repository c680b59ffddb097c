"""A network brought as a saved module or a factory: loading, metadata, refusals, rebuilding."""

import numpy as np
import pytest
import torch
from PIL import Image

from nas.data import DataError, eval_splits, load_eval_images
from nas.train import build_from_meta
from nas.user_model import USER_MODEL_KEY, load_user_model, user_meta


def test_a_factory_with_weights_and_a_saved_module_load_the_same_network(user_package):
    folder, net = user_package
    x = torch.rand(4, 3, 16, 16)
    from_factory, ref = load_user_model("byo_models:tiny", str(folder / "weights.pt"))
    from_file, file_ref = load_user_model(str(folder / "whole.pt"))
    assert ref == {"factory": "byo_models:tiny"} and file_ref == {
        "file": str((folder / "whole.pt").resolve())
    }
    assert not from_factory.training
    with torch.no_grad():
        assert torch.equal(from_factory(x), net.eval()(x)) and torch.equal(from_file(x), net(x))


def test_metadata_reads_the_classes_from_a_forward_and_defaults_to_unnormalised_inputs(user_package):
    net, ref = load_user_model("byo_models:tiny")
    meta = user_meta(net, ref, "3x16x16")
    assert meta == {USER_MODEL_KEY: ref, "in_channels": 3, "image_size": 16, "num_classes": 5,
                    "mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0]}  # fmt: skip
    rebuilt = build_from_meta(meta)  # what reloading a quantized checkpoint of it does
    assert [type(m) for m in rebuilt.modules()] == [type(m) for m in net.modules()]


@pytest.mark.parametrize(
    ("model", "weights", "message"),
    [
        ("byo_models:missing", None, "has no missing"),
        ("byo_models:not_a_model", None, "not callable"),
        ("no_such_package_xyz:f", None, "cannot import"),
        ("weights.pt", None, "holds a state_dict, not a module"),
        ("byo_models:tiny", "whole.pt", "not a readable state_dict"),
        ("whole.pt", "weights.pt", "only with --model pkg.module:factory"),
        ("nothing.pt", None, "no such file"),
    ],
)
def test_bad_models_are_refused_with_one_line_naming_them(user_package, model, weights, message):
    folder, _ = user_package
    model = str(folder / model) if model.endswith(".pt") else model
    with pytest.raises(ValueError, match=message) as info:
        load_user_model(model, str(folder / weights) if weights else None)
    assert "\n" not in str(info.value)


def test_weights_of_another_shape_are_refused(user_package, tmp_path):
    import byo_models

    torch.save(byo_models.tiny(classes=7).state_dict(), tmp_path / "other.pt")
    with pytest.raises(ValueError, match="does not fit the model"):
        load_user_model("byo_models:tiny", str(tmp_path / "other.pt"))


def test_torchscript_is_refused_with_the_reason(user_package, tmp_path):
    _, net = user_package
    torch.jit.save(torch.jit.trace(net.eval(), torch.zeros(1, 3, 16, 16)), tmp_path / "script.pt")
    with pytest.raises(ValueError, match="TorchScript"):
        load_user_model(str(tmp_path / "script.pt"))


@pytest.mark.parametrize(
    ("size", "kwargs", "message"),
    [
        ("3x16x12", {}, "only square inputs"),
        ("1x16x16", {}, "does not accept it"),
        ("3x16x16", {"num_classes": 10}, "returns 5 logits"),
        ("3x16x16", {"mean": (0.5,)}, "give 3 values"),
        ("3x16x16", {"std": (1.0, 0.0, 1.0)}, "must be positive"),
    ],
)
def test_metadata_refuses_what_does_not_fit_the_model(user_package, size, kwargs, message):
    net, ref = load_user_model("byo_models:tiny")
    with pytest.raises(ValueError, match=message):
        user_meta(net, ref, size, **kwargs)


def test_eval_images_from_a_folder_with_labels_are_resized_and_centre_cropped(tmp_path):
    rng = np.random.default_rng(0)
    for name, (w, h) in {"a.png": (40, 20), "b.jpg": (20, 20)}.items():
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(tmp_path / name)
    (tmp_path / "labels.csv").write_text("# file,label\na.png,3\nb.jpg,0\n")
    x, y = load_eval_images(tmp_path, channels=3, size=16)
    assert x.shape == (2, 3, 16, 16) and x.dtype == torch.uint8 and y.tolist() == [3, 0]
    (tmp_path / "labels.csv").write_text("a.png,cat\n")
    with pytest.raises(DataError, match="labels.csv:1"):
        load_eval_images(tmp_path, channels=3, size=16)


def test_eval_data_of_another_size_and_labels_beyond_the_classes_are_refused(tmp_path, make_npz):
    npz = make_npz(tmp_path / "d.npz", n_train=20, n_test=10, size=28, channels=1, layout="nhw")
    with pytest.raises(DataError, match="the model takes 3x16x16"):
        load_eval_images(npz, channels=3, size=16)
    x, y = load_eval_images(npz, channels=1, size=28)
    with pytest.raises(DataError, match="not a class of a 2-class model"):
        eval_splits(x, y, {"num_classes": 2, "mean": [0.0], "std": [1.0]})
    assert len(eval_splits(x, y, {"num_classes": 10, "mean": [0.0], "std": [1.0]}).y_test) == 10
