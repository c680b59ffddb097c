"""Image classification data: Fashion-MNIST IDX files (Debian's ``dataset-fashion-mnist`` or any folder
holding the 4 standard files) or an ``.npz`` with ``x_train, y_train, x_test, y_test``.

Everything is held in memory as uint8 (N, C, H, W) tensors; batches are gathered, augmented and
normalized with whole-batch tensor ops (no per-sample Python loop). A fixed, seeded validation split
is carved from train, stratified by class; the test set is never used to choose anything.

Augmentation is a random crop (padding H/8), plus a horizontal flip only where a mirrored image keeps its
class: a dataset says so (``Dataset.flips``). Fashion-MNIST does (a folder whose name holds
"fashion-mnist", as Debian's); any other data does not unless its ``.npz`` holds ``hflip=1``: a mirrored
digit is another digit or none (flips cost MNIST 11 points after one epoch).
"""

from __future__ import annotations

import gzip
import os
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

DEFAULT_DATA_DIR = Path("/usr/share/datasets/fashion-mnist")
DATA_ENV = "COEXPLORE_DATA"
IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
IDX_MAGIC = {3: 2051, 1: 2049}  # images (3 dims), labels (1 dim)


class DataError(ValueError):
    """A data file is missing, corrupt or not what was expected. The message names the path."""


@dataclass(frozen=True)
class Dataset:
    """uint8 images (N, C, H, W) and int64 labels (N,) for train and test."""

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    flips: bool = False  # a horizontally mirrored image keeps its class (augmentation may flip)

    @property
    def channels(self) -> int:
        return self.x_train.shape[1]

    @property
    def image_size(self) -> int:
        return self.x_train.shape[2]

    @property
    def num_classes(self) -> int:
        return int(max(self.y_train.max(), self.y_test.max())) + 1


@dataclass(frozen=True)
class Splits:
    """Train / validation (carved from train) / test, with per-channel mean and std of the train split
    (in [0, 1] pixel units) for normalization."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    mean: tuple[float, ...]
    std: tuple[float, ...]
    num_classes: int
    flips: bool = False  # the dataset's: augmentation may mirror images horizontally

    @property
    def channels(self) -> int:
        return self.x_train.shape[1]

    @property
    def image_size(self) -> int:
        return self.x_train.shape[2]


def read_idx(path: Path, expected_dims: int) -> np.ndarray:
    """Read one IDX file (gzipped or raw) holding uint8 data with ``expected_dims`` dimensions."""
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataError(f"{path}: cannot read IDX file ({exc})") from None
    magic = IDX_MAGIC[expected_dims]
    if len(raw) < 4 + 4 * expected_dims or int.from_bytes(raw[:4], "big") != magic:
        raise DataError(f"{path}: not an IDX file with {expected_dims} dims (expected magic number {magic})")
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(expected_dims)]
    offset = 4 + 4 * expected_dims
    if len(raw) - offset != int(np.prod(dims)):
        raise DataError(f"{path}: IDX header says shape {dims} but holds {len(raw) - offset} bytes")
    return np.frombuffer(raw, dtype=np.uint8, offset=offset).reshape(dims).copy()


def _find_idx(folder: Path, stem: str) -> Path:
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.is_file():
            return candidate
    raise DataError(f"{folder}: missing {stem}[.gz] (need the 4 IDX files {sorted(IDX_FILES.values())})")


def load_idx_folder(folder: Path) -> Dataset:
    arrays = {}
    for key, stem in IDX_FILES.items():
        arrays[key] = read_idx(_find_idx(folder, stem), 3 if key.startswith("x") else 1)
    name = folder.name or str(folder)
    return _to_dataset(name, arrays, folder, flips="fashion-mnist" in name.lower())


def _to_nchw(x: np.ndarray, path: Path) -> np.ndarray:
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4 and x.shape[-1] in (1, 3) and x.shape[1] not in (1, 3):
        x = x.transpose(0, 3, 1, 2)
    if x.ndim != 4 or x.shape[1] not in (1, 3) or x.shape[2] != x.shape[3]:
        raise DataError(f"{path}: images must be (N,H,W), (N,H,W,C) or (N,C,H,W) with C in 1|3 and H == W")
    if x.dtype != np.uint8:
        x = np.asarray(x, dtype=np.float32)
        scale = 255.0 if x.max() <= 1.0 else 1.0
        x = np.clip(np.rint(x * scale), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(x)


def load_npz(path: Path) -> Dataset:
    if not zipfile.is_zipfile(path):  # else numpy reads it as a pickle and suggests allow_pickle
        raise DataError(f"{path}: not a NumPy .npz archive (np.savez writes one)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = sorted(set(IDX_FILES) - set(npz.files))
            if missing:
                raise DataError(f"{path}: missing arrays {missing}; an .npz needs {sorted(IDX_FILES)}")
            arrays = {key: npz[key] for key in IDX_FILES}
            flips = bool(npz["hflip"]) if "hflip" in npz.files else False
    except (OSError, ValueError) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(f"{path}: not a readable .npz file ({exc})") from None
    return _to_dataset(path.stem, arrays, path, flips)


def _to_dataset(name: str, arrays: dict[str, np.ndarray], path: Path, flips: bool = False) -> Dataset:
    x_train, x_test = _to_nchw(arrays["x_train"], path), _to_nchw(arrays["x_test"], path)
    y_train, y_test = (np.asarray(arrays[k]).reshape(-1).astype(np.int64) for k in ("y_train", "y_test"))
    if len(x_train) != len(y_train) or len(x_test) != len(y_test):
        raise DataError(f"{path}: image and label counts differ")
    if x_train.shape[1:] != x_test.shape[1:]:
        raise DataError(f"{path}: train images {x_train.shape[1:]} and test images {x_test.shape[1:]} differ")
    if min(y_train.min(), y_test.min()) < 0:
        raise DataError(f"{path}: labels must be non-negative class indices")
    return Dataset(name, *(torch.from_numpy(a) for a in (x_train, y_train, x_test, y_test)), flips=flips)


def resolve_data_source(source: str | Path | None = None) -> Path:
    """``source``, else ``$COEXPLORE_DATA``, else the Debian package's folder."""
    return Path(source or os.environ.get(DATA_ENV) or DEFAULT_DATA_DIR)


def load_dataset(source: str | Path | None = None) -> Dataset:
    path = resolve_data_source(source)
    if path.is_dir():
        return load_idx_folder(path)
    if path.suffix == ".npz" and path.is_file():
        return load_npz(path)
    hint = " (install the Debian package dataset-fashion-mnist, or run make setup)" if source is None else ""
    raise DataError(f"{path}: no such folder of IDX files or .npz file{hint}")


def split_validation(data: Dataset, val_fraction: float = 1 / 12, seed: int = 0) -> Splits:
    """Carve a class-stratified validation split from train with a fixed seed (default: 5,000 of
    Fashion-MNIST's 60,000)."""
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    gen = torch.Generator().manual_seed(seed)
    val_idx = []
    for cls in torch.unique(data.y_train):
        members = torch.nonzero(data.y_train == cls).flatten()
        members = members[torch.randperm(len(members), generator=gen)]
        val_idx.append(members[: max(1, round(len(members) * val_fraction))])
    val_mask = torch.zeros(len(data.y_train), dtype=torch.bool)
    val_mask[torch.cat(val_idx)] = True
    x_train = data.x_train[~val_mask]
    pixels = x_train.float().div_(255).transpose(0, 1).reshape(data.channels, -1)
    return Splits(
        x_train,
        data.y_train[~val_mask],
        data.x_train[val_mask],
        data.y_train[val_mask],
        data.x_test,
        data.y_test,
        tuple(pixels.mean(1).tolist()),
        tuple(pixels.std(1).tolist()),
        data.num_classes,
        data.flips,
    )


def random_crop_flip(x: torch.Tensor, pad: int, flip: bool, gen: torch.Generator) -> torch.Tensor:
    """Per-image random crop after zero padding by ``pad`` pixels, then optional random horizontal
    flip; x is uint8 or float (B, C, H, W)."""
    b, c, h, w = x.shape
    if pad > 0:
        padded = F.pad(x, (pad, pad, pad, pad))
        dy = torch.randint(0, 2 * pad + 1, (b,), generator=gen)
        dx = torch.randint(0, 2 * pad + 1, (b,), generator=gen)
        rows = (dy[:, None] + torch.arange(h))[:, None, :, None]
        cols = (dx[:, None] + torch.arange(w))[:, None, None, :]
        x = padded[torch.arange(b)[:, None, None, None], torch.arange(c)[None, :, None, None], rows, cols]
    if flip:
        mirror = torch.rand(b, generator=gen) < 0.5
        x = torch.where(mirror[:, None, None, None], x.flip(3), x)
    return x


def iterate_batches(
    x: torch.Tensor,
    y: torch.Tensor,
    batch_size: int,
    mean: tuple[float, ...],
    std: tuple[float, ...],
    *,
    shuffle: bool = False,
    augment: bool = False,
    seed: int = 0,
    channels_last: bool = False,
    drop_last: bool = False,
    flip: bool = False,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield normalized float32 batches (B, C, H, W) and labels. Augmentation: crop with padding of
    H/8 pixels, and a random horizontal flip when ``flip`` (pass the dataset's ``flips``)."""
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(x), generator=gen) if shuffle else torch.arange(len(x))
    mean_t = torch.tensor(mean).view(1, -1, 1, 1) * 255
    inv_std = 1.0 / (torch.tensor(std).view(1, -1, 1, 1) * 255)
    stop = len(x) - (len(x) % batch_size if drop_last else 0)
    for start in range(0, stop, batch_size):
        idx = order[start : start + batch_size]
        xb = x[idx]
        if augment:
            xb = random_crop_flip(xb, max(1, x.shape[2] // 8), flip, gen)
        xb = (xb.float() - mean_t) * inv_std
        if channels_last:
            xb = xb.contiguous(memory_format=torch.channels_last)
        yield xb, y[idx]


def num_batches(n: int, batch_size: int, drop_last: bool = False) -> int:
    return n // batch_size if drop_last else -(-n // batch_size)


def augmentation_label(flips: bool, image_size: int) -> str:
    crop = f"random crop after {max(1, image_size // 8)}-px padding"
    return crop + (" + horizontal flip" if flips else ", no flips (mirrored images may change class)")


def describe_dataset(data: Dataset, splits: Splits) -> str:
    """The dataset's shape and classes, and each split's size and per-class counts, as text lines."""
    lines = [f"{data.name}: {data.channels}x{data.image_size}x{data.image_size}, {data.num_classes} classes"]
    for name, y in (("train", splits.y_train), ("val", splits.y_val), ("test", splits.y_test)):
        counts = y.bincount(minlength=data.num_classes).tolist()
        lines.append(f"  {name:<5} {len(y):>6} images, per class {min(counts)}..{max(counts)}")
    lines.append(f"  mean {[round(m, 4) for m in splits.mean]}, std {[round(s, 4) for s in splits.std]}")
    return "\n".join(lines)


def load_splits(data_dir: str | None = None, val_seed: int = 0) -> Splits:
    """Train/validation/test splits of the data in ``data_dir`` (default: Debian's Fashion-MNIST);
    ``ValueError`` or ``OSError`` naming the problem."""
    return split_validation(load_dataset(data_dir), seed=val_seed)


EVAL_LABEL_FILES = ("labels.csv", "labels.txt")


def _image_folder(folder: Path, channels: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Images named in ``folder``'s labels file (lines ``file,label`` or ``file label``), each resized
    so that its shorter side is ``size`` and cropped to the centre ``size`` x ``size``."""
    from PIL import Image, UnidentifiedImageError

    labels_file = next(folder / name for name in EVAL_LABEL_FILES if (folder / name).is_file())
    images, labels = [], []
    for number, line in enumerate(labels_file.read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.replace(",", " ").split()
        if len(parts) != 2 or not parts[1].isdigit():
            raise DataError(f"{labels_file}:{number}: expected 'file,label' (an integer label), got {line!r}")
        try:
            with Image.open(folder / parts[0]) as img:
                img = img.convert("L" if channels == 1 else "RGB")
                scale = size / min(img.size)
                img = img.resize((max(size, round(img.width * scale)), max(size, round(img.height * scale))),
                                 Image.BILINEAR)  # fmt: skip
                left, top = (img.width - size) // 2, (img.height - size) // 2
                pixels = np.asarray(img.crop((left, top, left + size, top + size)), dtype=np.uint8)
        except (OSError, UnidentifiedImageError) as exc:
            raise DataError(f"{folder / parts[0]}: not a readable image ({type(exc).__name__})") from None
        images.append(pixels.reshape(size, size, channels).transpose(2, 0, 1))
        labels.append(int(parts[1]))
    if not images:
        raise DataError(f"{labels_file}: names no images")
    return torch.from_numpy(np.stack(images)), torch.tensor(labels, dtype=torch.int64)


def load_eval_images(source: str | Path, channels: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Labelled images that only score a model: the test split of an .npz or IDX folder (the
    ``--data-dir`` formats), which must be ``channels`` x ``size`` x ``size``; or a folder of image files
    with a labels file (``labels.csv`` or ``labels.txt``), resized and centre-cropped to that size. The
    labels need not cover every class. ``DataError`` naming the problem."""
    path = Path(source)
    if path.is_dir() and any((path / name).is_file() for name in EVAL_LABEL_FILES):
        return _image_folder(path, channels, size)
    data = load_dataset(path)
    if tuple(data.x_test.shape[1:]) != (channels, size, size):
        raise DataError(f"{path}: test images are {'x'.join(map(str, data.x_test.shape[1:]))}, "
                        f"the model takes {channels}x{size}x{size}")  # fmt: skip
    return data.x_test, data.y_test


def eval_splits(x: torch.Tensor, y: torch.Tensor, meta: dict) -> Splits:
    """Splits holding only test images (``x``, ``y``): what scores a model brought without its data,
    normalised as its metadata says. ``DataError`` when a label is not one of its classes."""
    if len(y) and int(y.max()) >= meta["num_classes"]:
        raise DataError(f"label {int(y.max())} is not a class of a {meta['num_classes']}-class model")
    none_x, none_y = x[:0], y[:0]
    return Splits(none_x, none_y, none_x, none_y, x, y, tuple(meta["mean"]), tuple(meta["std"]),
                  meta["num_classes"])  # fmt: skip
