"""Tests for bringing your own images: ppgn.data.folder (class-per-subfolder trees), .npz files and the
built-in names behind one ``open_dataset``, and the DataLoader that streams them. Every folder is drawn
here with Pillow in ``tmp_path``; no dataset is installed."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from ppgn.data import (
    ArrayDataset,
    DataNotFoundError,
    FolderDataset,
    load_dataset,
    make_loader,
    open_dataset,
)
from ppgn.data.datasets import infer_size, split_indices
from ppgn.io import save_npz


def _save(path, size=(40, 40), mode="L", color=128, fmt=None, **kw):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, color).save(path, format=fmt, **kw)
    return path


def _noise(path, size=(40, 40), mode="RGB", seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    c = 1 if mode == "L" else 3
    a = np.random.default_rng(seed).integers(0, 256, size=(size[1], size[0], c), dtype=np.uint8)
    Image.fromarray(a[..., 0] if c == 1 else a, mode).save(path)
    return path


@pytest.fixture
def tree(tmp_path):
    """cat: 12 images of mixed formats, sizes and modes; dog: 5 grey PNGs; plus things that are ignored."""
    root = tmp_path / "pets"
    for i in range(12):
        kind = i % 4
        if kind == 0:
            _save(root / "cat" / f"c{i:02d}.png", (20, 30), "L", 40 + i)
        elif kind == 1:
            _save(root / "cat" / f"c{i:02d}.jpg", (40, 40), "RGB", (200, 30, 30), quality=95)
        elif kind == 2:
            _save(root / "cat" / f"c{i:02d}.webp", (40, 40), "RGB", (30, 200, 30), lossless=True)
        else:
            _save(root / "cat" / "sub" / f"c{i:02d}.png", (30, 20), "RGBA", (0, 0, 255, 0))  # transparent: white
    for i in range(5):
        _save(root / "dog" / f"d{i}.png", (40, 40), "L", 200 + i)
    (root / "cat" / ".DS_Store").write_bytes(b"\0junk")  # hidden: ignored
    _save(root / ".thumbs" / "x.png")  # a hidden folder is no class
    (root / "README.txt").write_text("loose files in the root are ignored")
    return root


def _grey_tree(root, n=(3, 3), sizes=((40, 40),)):
    for c, count in enumerate(n):
        for i in range(count):
            _save(root / f"class{c}" / f"{i}.png", sizes[i % len(sizes)], "L", 10 * i + 50 * c)
    return root


def test_classes_split_and_items(tree):
    train, test = FolderDataset(tree, "train"), FolderDataset(tree, "test")
    assert train.classes == test.classes == ("cat", "dog")
    assert len(train) + len(test) == 17 and len(test) == 1  # the 10th cat; dog has 5 files, no test
    assert sorted(f.relative_to(tree).as_posix() for f in test.files) == ["cat/sub/c03.png"]  # 10th by relative path
    assert train.labels.dtype == np.int64 and np.bincount(train.labels).tolist() == [11, 5]
    assert train.channels == 3 and train.size == 32 and train.image_shape == (3, 32, 32)  # colour in cat; median short side 40
    x, y = train[0]
    assert x.dtype == torch.float32 and x.shape == (3, 32, 32) and y.dtype == torch.int64 and y.item() == 0
    assert train.skipped == () and train.augment is None


def test_split_rule():
    labels = np.array([0] * 25 + [1] * 9 + [2] * 10)
    test = split_indices(labels, "test")
    assert test.tolist() == [9, 19, 43]
    assert sorted([*test, *split_indices(labels, "train")]) == list(range(44))


@pytest.mark.parametrize("size", [28, 32, 64])
def test_shapes_and_range(tree, size):
    data = FolderDataset(tree, "train", size=size)
    xs = torch.stack([data[i][0] for i in range(len(data))])
    assert xs.shape == (16, 3, size, size) and xs.dtype == torch.float32
    assert xs.min() >= -1 and xs.max() <= 1
    grey = data[0][0]  # c00.png, grey 40: repeated over RGB, value 40/127.5 - 1
    assert torch.equal(grey[0], grey[1]) and torch.equal(grey[1], grey[2])
    assert torch.allclose(grey, torch.full_like(grey, 40 / 127.5 - 1))
    transparent = data[[f.name for f in data.files].index("c07.png")][0]
    assert torch.equal(transparent, torch.ones_like(transparent))  # composited on white


@pytest.mark.parametrize("shape", [(20, 30), (30, 20)])
def test_centre_crop_keeps_the_centre(tmp_path, shape):
    w, h = shape
    a = np.zeros((h, w, 3), np.uint8)
    a[:] = (255, 0, 0)  # red bands at the ends of the long side
    a[(h - 20) // 2 : (h + 20) // 2, (w - 20) // 2 : (w + 20) // 2] = (0, 0, 255)  # blue centre square
    _save(tmp_path / "b" / "x.png")
    tmp_path.joinpath("a").mkdir()
    Image.fromarray(a).save(tmp_path / "a" / "x.png")
    for size in (28, 32, 64):
        x = FolderDataset(tmp_path, size=size)[0][0]
        assert torch.equal(x[0], -torch.ones(size, size)) and torch.equal(x[2], torch.ones(size, size))


def test_exif_orientation_is_applied(tmp_path):
    a = np.zeros((20, 40), np.uint8)
    a[:, 20:] = 255  # stored: left half black, right half white
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display": the stored left half becomes the top
    (tmp_path / "a").mkdir()
    Image.fromarray(a).save(tmp_path / "a" / "x.jpg", exif=exif, quality=95)
    _save(tmp_path / "b" / "y.png")
    x = FolderDataset(tmp_path, size=28)[0][0][0]  # (28, 28)
    assert x[:10].mean() < -0.9 and x[-10:].mean() > 0.9


def test_channels_come_from_the_data_or_the_flag(tmp_path):
    grey = _grey_tree(tmp_path / "grey")
    assert FolderDataset(grey).channels == 1 and FolderDataset(grey)[0][0].shape == (1, 32, 32)
    assert FolderDataset(grey, channels=3)[0][0].shape == (3, 32, 32)
    _save(grey / "class1" / "colour.png", mode="RGB", color=(255, 0, 0))  # one colour image makes it RGB
    assert FolderDataset(grey).channels == 3
    forced = FolderDataset(grey, channels=1)
    x = forced[[f.name for f in forced.files].index("colour.png")][0]
    assert x.shape == (1, 32, 32) and torch.allclose(x, torch.full_like(x, 76 / 127.5 - 1))  # luma of red: 76


def test_modes_and_sizes_mixed(tmp_path):
    root = tmp_path / "mixed"
    _save(root / "a" / "p.png", (50, 70), "P", 3)
    _save(root / "a" / "cmyk.jpg", (33, 90), "CMYK", (0, 255, 0, 0))
    _save(root / "a" / "bw.png", (28, 28), "1", 1)
    (root / "b").mkdir()
    Image.fromarray(np.full((40, 40), 65535, np.uint16)).save(root / "b" / "deep.png")  # 16-bit grey
    _save(root / "b" / "la.png", (64, 32), "LA", (0, 0))
    _save(root / "b" / "big.webp", (300, 200), "RGB", (10, 20, 30))
    data = FolderDataset(root, size=32)
    assert data.channels == 3 and len(data) == 6
    for i in range(len(data)):
        x = data[i][0]
        assert x.shape == (3, 32, 32) and x.min() >= -1 and x.max() <= 1
    deep = data[[f.name for f in data.files].index("deep.png")][0]
    assert torch.equal(deep, torch.ones_like(deep))  # 16-bit white is white, not clipped


def test_size_from_the_data(tmp_path):
    assert infer_size([40, 30, 100]) == 32 and infer_size([16]) == 28 and infer_size([1000]) == 128
    assert FolderDataset(_grey_tree(tmp_path / "a", sizes=((70, 90),))).size == 64
    assert FolderDataset(_grey_tree(tmp_path / "b", sizes=((20, 30),))).size == 28


def _one_line(err, *needles):
    msg = str(err.value)
    assert "\n" not in msg, msg
    for needle in needles:
        assert str(needle) in msg, msg
    return msg


def test_bad_files_are_refused_naming_the_path(tree):
    txt = tree / "dog" / "notes.txt"
    txt.write_text("not an image")
    with pytest.raises(ValueError) as err:
        FolderDataset(tree)
    _one_line(err, txt, "skip_bad", "png, jpg, webp")
    txt.unlink()
    corrupt = tree / "cat" / "broken.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    with pytest.raises(ValueError) as err:
        open_dataset(tree)
    _one_line(err, corrupt, "skip_bad")


def test_an_empty_class_folder_is_refused_naming_it(tree):
    (tree / "empty").mkdir()
    with pytest.raises(ValueError) as err:
        FolderDataset(tree)
    _one_line(err, tree / "empty", "no images", "skip_bad")


def test_skip_bad_leaves_them_out_and_counts_them(tree):
    (tree / "dog" / "notes.txt").write_text("not an image")
    (tree / "cat" / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    (tree / "empty").mkdir()
    (tree / "junk").mkdir()
    (tree / "junk" / "a.txt").write_text("only junk here")
    data = FolderDataset(tree, skip_bad=True)
    assert data.classes == ("cat", "dog") and len(data) == 16
    assert sorted(p.name for p in data.skipped) == ["a.txt", "broken.jpg", "empty", "junk", "notes.txt"]
    assert "5 bad files or empty folders skipped" in data.fingerprint.summary


def test_truncated_pixels_fail_when_read_naming_the_file(tmp_path):
    root = _grey_tree(tmp_path / "t")
    path = _noise(root / "class0" / "cut.png", (64, 64), "RGB")
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])  # the header reads, the pixels do not
    data = FolderDataset(root)
    i = [f.name for f in data.files].index("cut.png")
    with pytest.raises(ValueError) as err:
        data[i]
    _one_line(err, path, "cannot read image")


def test_one_class_no_class_no_folder(tmp_path):
    _save(tmp_path / "one" / "only" / "a.png")
    with pytest.raises(ValueError) as err:
        FolderDataset(tmp_path / "one")
    _one_line(err, tmp_path / "one", "only", "at least 2")
    _save(tmp_path / "flat" / "a.png")
    with pytest.raises(DataNotFoundError) as err:
        FolderDataset(tmp_path / "flat")
    _one_line(err, tmp_path / "flat", "<class>")
    with pytest.raises(DataNotFoundError) as err:
        open_dataset(tmp_path / "missing")
    _one_line(err, tmp_path / "missing", "fashion-mnist", "emoji", ".npz")
    (tmp_path / "e" / "a").mkdir(parents=True)
    (tmp_path / "e" / "b").mkdir()
    with pytest.raises(DataNotFoundError) as err:
        FolderDataset(tmp_path / "e", skip_bad=True)
    _one_line(err, tmp_path / "e", "no images")


@pytest.mark.parametrize("spec", ["folder", "npz", "fashion-mnist"])
def test_unsupported_size_and_channels_are_refused(tree, tmp_path, spec, fashion_mnist_dir):
    source = {"folder": tree, "npz": tmp_path / "x.npz", "fashion-mnist": "fashion-mnist"}[spec]
    with pytest.raises(ValueError) as err:
        open_dataset(source, size=50, data_dir=fashion_mnist_dir)
    _one_line(err, "50", "28, 32, 64, 128")
    with pytest.raises(ValueError) as err:
        open_dataset(source, channels=2, data_dir=fashion_mnist_dir)
    _one_line(err, "1 (grey), 3 (RGB)")
    with pytest.raises(ValueError) as err:
        open_dataset(source, split="valid", data_dir=fashion_mnist_dir)
    _one_line(err, "train, test")


def test_fingerprint_is_stable_and_follows_the_files(tree, tmp_path):
    a, b = FolderDataset(tree), FolderDataset(tree)
    assert a.fingerprint == b.fingerprint and len(a.fingerprint.sha256) == 64
    assert FolderDataset(tree, "test").fingerprint.sha256 != a.fingerprint.sha256
    assert FolderDataset(tree, size=64, channels=1).fingerprint == a.fingerprint  # the files, not how they are read
    moved = shutil.copytree(tree, tmp_path / "elsewhere")
    assert FolderDataset(moved).fingerprint.sha256 == a.fingerprint.sha256  # relative paths: a moved folder is the same data
    _save(tree / "dog" / "d0.png", (41, 40), "L", 200)  # same name, another size on disk
    assert FolderDataset(tree).fingerprint.sha256 != a.fingerprint.sha256
    (moved / "dog" / "d1.png").rename(moved / "dog" / "d1b.png")
    assert FolderDataset(moved).fingerprint.sha256 != a.fingerprint.sha256
    assert a.fingerprint.to_dict()["summary"].startswith(f"folder {tree}: train split, 16 of 17 images")


def test_workers_give_the_same_batches(tree):
    data = FolderDataset(tree, size=32)
    batches = [[3, 0, 7], [15, 1], [2, 9, 4, 11, 5]]  # the training loop's own order
    serial = list(make_loader(data, batch_sampler=batches))
    parallel = list(make_loader(data, batch_sampler=batches, num_workers=2))
    assert [y.tolist() for _, y in serial] == [data.labels[b].tolist() for b in batches]
    for (x0, y0), (x1, y1) in zip(serial, parallel, strict=True):
        assert x0.shape == (len(y0), 3, 32, 32) and torch.equal(x0, x1) and torch.equal(y0, y1)
    images, labels = data.arrays()
    assert images.shape == (16, 32, 32, 3) and images.dtype == np.uint8 and np.array_equal(labels, data.labels)
    assert np.array_equal(images[3], ((serial[0][0][0].permute(1, 2, 0) + 1) * 127.5).round().byte().numpy())


def test_npz_contract_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(30, 32, 32, 3), dtype=np.uint8)
    labels = np.repeat(np.arange(3), 10).astype(np.int64)
    save_npz(tmp_path / "mine.npz", images, labels, np.ones(30, np.float32), classes=np.array(["a", "b", "c"]))
    train, test = open_dataset(tmp_path / "mine.npz"), open_dataset(str(tmp_path / "mine.npz"), "test")
    assert isinstance(train, ArrayDataset) and train.classes == ("a", "b", "c") and train.image_shape == (3, 32, 32)
    assert len(train) == 27 and len(test) == 3 and test.labels.tolist() == [0, 1, 2]
    got, got_labels = test.arrays()
    assert np.array_equal(got, images[[9, 19, 29]]) and np.array_equal(got_labels, [0, 1, 2])
    x, y = test[1]
    assert torch.allclose(x, torch.from_numpy(images[19]).permute(2, 0, 1).float() / 127.5 - 1) and y.item() == 1
    grey = open_dataset(tmp_path / "mine.npz", size=64, channels=1)
    assert grey[0][0].shape == (1, 64, 64) and grey.arrays()[0].shape == (27, 64, 64, 1)
    assert train.fingerprint.sha256 != test.fingerprint.sha256 and train.fingerprint == open_dataset(tmp_path / "mine.npz").fingerprint
    save_npz(tmp_path / "plain.npz", images[:20, :, :, :1], labels[:20] % 2, np.ones(20, np.float32))
    assert open_dataset(tmp_path / "plain.npz").classes == ("0", "1")
    (tmp_path / "bad.npz").write_text("not a zip")
    with pytest.raises(ValueError) as err:
        open_dataset(tmp_path / "bad.npz")
    _one_line(err, tmp_path / "bad.npz")
    with pytest.raises(DataNotFoundError) as err:
        open_dataset(tmp_path / "absent.npz")
    _one_line(err, tmp_path / "absent.npz")


def test_builtin_names_through_the_same_interface(fashion_mnist_dir):
    data = open_dataset("fashion-mnist", "test", data_dir=fashion_mnist_dir)
    legacy = load_dataset("fashion-mnist", "test", fashion_mnist_dir)
    assert data.image_shape == (1, 28, 28) and data.classes == legacy.classes and len(data) == 200
    assert data.fingerprint.sha256 == legacy.sha256
    images, labels = data.arrays()
    assert np.array_equal(images[..., 0], legacy.images) and np.array_equal(labels, legacy.labels)
    x, y = data[5]
    assert torch.equal(x, torch.from_numpy(legacy.images[5]).float().div(127.5).sub(1).unsqueeze(0)) and y == legacy.labels[5]
    big = open_dataset("fashion-mnist", "test", size=64, channels=3, data_dir=fashion_mnist_dir)
    x = big[5][0]
    assert x.shape == (3, 64, 64) and torch.equal(x[0], x[2]) and x.min() >= -1 and x.max() <= 1


def test_write_folder_round_trips_and_never_overwrites(tmp_path):
    from ppgn.data import open_dataset
    from ppgn.data.folder import write_folder

    digits = open_dataset("digits", "test")
    assert write_folder(digits, tmp_path / "d", num=30) == 30
    back = FolderDataset(tmp_path / "d", "train")  # 27 of the 30: every 10th of a class is the folder's own test split
    assert back.classes == digits.classes and back.image_shape == digits.image_shape
    x, y = back[0]
    index = int(back.files[0].stem)
    assert torch.equal(x, digits[index][0]) and int(y) == digits.labels[index]  # PNG is lossless
    assert sorted(np.bincount(back.labels).tolist())[-1] - sorted(np.bincount(back.labels).tolist())[0] <= 1  # classes share evenly
    with pytest.raises(FileExistsError, match="not empty"):
        write_folder(digits, tmp_path / "d", num=3)
