import gzip

import numpy as np
import pytest
import torch

from nas.data import (
    DataError,
    iterate_batches,
    load_dataset,
    random_crop_flip,
    split_validation,
)


def test_real_fashion_mnist_shapes_balance_range(fashion_mnist):
    d = fashion_mnist
    assert d.x_train.shape == (60000, 1, 28, 28) and d.x_test.shape == (10000, 1, 28, 28)
    assert d.x_train.dtype == torch.uint8 and d.num_classes == 10
    assert torch.equal(d.y_train.bincount(), torch.full((10,), 6000))
    assert torch.equal(d.y_test.bincount(), torch.full((10,), 1000))
    assert d.x_train.min() == 0 and d.x_train.max() == 255


def test_validation_split_is_fixed_stratified_and_disjoint(fashion_mnist):
    a, b = split_validation(fashion_mnist, seed=0), split_validation(fashion_mnist, seed=0)
    assert torch.equal(a.x_val, b.x_val)
    assert len(a.y_val) == 5000 and len(a.y_train) == 55000
    assert torch.equal(a.y_val.bincount(), torch.full((10,), 500))
    c = split_validation(fashion_mnist, seed=1)
    assert not torch.equal(a.x_val, c.x_val)
    # val images come from train, never from test
    assert not torch.equal(a.x_val[:100], fashion_mnist.x_test[:100])
    assert 0.2 < a.mean[0] < 0.4 and 0.3 < a.std[0] < 0.4


@pytest.mark.parametrize("layout,channels", [("nhwc", 3), ("nchw", 3), ("nhw", 1)])
def test_npz_layouts(tmp_path, make_npz, layout, channels):
    data = load_dataset(make_npz(tmp_path / "d.npz", layout=layout, channels=channels))
    assert data.x_train.shape == (200, channels, 32, 32) and data.num_classes == 10


def test_npz_float_images_are_scaled(tmp_path):
    x = np.full((20, 8, 8), 0.5, dtype=np.float32)
    y = np.arange(20) % 2
    np.savez(tmp_path / "f.npz", x_train=x, y_train=y, x_test=x, y_test=y)
    assert load_dataset(tmp_path / "f.npz").x_train.max() == 128


def test_npz_missing_array(tmp_path):
    np.savez(tmp_path / "bad.npz", x_train=np.zeros((2, 8, 8), np.uint8))
    with pytest.raises(DataError, match=r"bad\.npz: missing arrays"):
        load_dataset(tmp_path / "bad.npz")


def test_missing_path_names_it(tmp_path):
    with pytest.raises(DataError, match="nowhere"):
        load_dataset(tmp_path / "nowhere")


def test_folder_missing_one_idx_file(tmp_path):
    with pytest.raises(DataError, match="missing train-images-idx3-ubyte"):
        load_dataset(tmp_path)


def _write_idx_folder(folder, images_bytes):
    names = ["train-images-idx3-ubyte", "t10k-images-idx3-ubyte"]
    for name in names:
        (folder / f"{name}.gz").write_bytes(gzip.compress(images_bytes))
    labels = (2049).to_bytes(4, "big") + (2).to_bytes(4, "big") + bytes([0, 1])
    for name in ["train-labels-idx1-ubyte", "t10k-labels-idx1-ubyte"]:
        (folder / name).write_bytes(labels)  # raw (not gzipped) is accepted too


def test_idx_folder_roundtrip(tmp_path):
    header = (2051).to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in (2, 4, 4))
    _write_idx_folder(tmp_path, header + bytes(range(32)))
    data = load_dataset(tmp_path)
    assert data.x_train.shape == (2, 1, 4, 4) and data.x_train[1, 0, 3, 3] == 31


def test_corrupt_idx_names_file_and_expectation(tmp_path):
    _write_idx_folder(tmp_path, b"not an idx file at all")
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte\.gz: not an IDX file .*magic number 2051"):
        load_dataset(tmp_path)


def test_truncated_idx(tmp_path):
    header = (2051).to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in (2, 4, 4))
    _write_idx_folder(tmp_path, header + bytes(10))
    with pytest.raises(DataError, match="holds 10 bytes"):
        load_dataset(tmp_path)


def test_broken_gzip(tmp_path):
    _write_idx_folder(tmp_path, b"")
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b garbage")
    with pytest.raises(DataError, match="cannot read IDX file"):
        load_dataset(tmp_path)


def test_batches_cover_everything_once_and_normalize(tmp_path, make_npz):
    data = load_dataset(make_npz(tmp_path / "d.npz", n_train=100, channels=3))
    s = split_validation(data, val_fraction=0.1)
    seen = []
    for xb, yb in iterate_batches(s.x_train, s.y_train, 32, s.mean, s.std, shuffle=True, seed=3):
        assert xb.dtype == torch.float32 and xb.shape[1:] == (3, 32, 32)
        seen.append(yb)
    assert sorted(torch.cat(seen).tolist()) == sorted(s.y_train.tolist())
    full, _ = next(iterate_batches(s.x_train, s.y_train, 1000, s.mean, s.std))
    assert full.mean().abs() < 0.05 and (full.std() - 1).abs() < 0.05


def test_crop_flip_keeps_shape_and_content():
    gen = torch.Generator().manual_seed(0)
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).view(2, 3, 8, 8)
    assert torch.equal(random_crop_flip(x, 0, False, gen), x)
    out = random_crop_flip(x, 2, True, gen)
    assert out.shape == x.shape
    # every output pixel is either zero padding or a pixel of the same image and channel
    for b in range(2):
        for c in range(3):
            src = set(x[b, c].flatten().tolist()) | {0.0}
            assert set(out[b, c].flatten().tolist()) <= src
    flipped = random_crop_flip(x[:1].repeat(64, 1, 1, 1), 0, True, gen)
    n_flipped = sum(torch.equal(f, x[0].flip(2)) for f in flipped)
    assert 10 < n_flipped < 54


def _mirror_count(flip: bool) -> int:
    """How many of 64 copies of one asymmetric image come out of augmentation mirrored."""
    x = torch.arange(8 * 8, dtype=torch.uint8).view(1, 1, 8, 8).repeat(64, 1, 1, 1)
    y = torch.zeros(64, dtype=torch.long)
    batch, _ = next(iterate_batches(x, y, 64, (0.0,), (1 / 255,), augment=True, flip=flip, seed=1))
    mirrored = x[0].float().flip(2)
    # a crop shifts by up to 1 px: compare the centre, which a 1-px shift of a mirror still shares
    return sum(
        any(torch.equal(b[:, 2:6, 2 + d : 6 + d], mirrored[:, 2:6, 2:6]) for d in (-1, 0, 1))
        or any(
            torch.equal(b[:, 2 + e : 6 + e, 2 + d : 6 + d], mirrored[:, 2:6, 2:6])
            for d in (-1, 0, 1)
            for e in (-1, 1)
        )
        for b in batch
    )


def test_flips_are_the_datasets_choice(tmp_path, make_npz, fashion_mnist):
    """Fashion-MNIST may be mirrored; unknown data (digits, say) is only cropped unless it says hflip=1."""
    assert fashion_mnist.flips and split_validation(fashion_mnist).flips
    plain = load_dataset(make_npz(tmp_path / "d.npz"))
    assert not plain.flips and not split_validation(plain).flips
    arrays = dict(np.load(tmp_path / "d.npz"))
    np.savez(tmp_path / "m.npz", **arrays, hflip=np.array(1))
    assert load_dataset(tmp_path / "m.npz").flips
    assert _mirror_count(flip=False) == 0
    assert 10 < _mirror_count(flip=True) < 54
