"""Tests for ppgn.images: grids, GIF animations and the .npz sample contract."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from ppgn.io import load_npz, make_grid, save_gif, save_image, save_npz

H, W = 5, 7  # not square, so a swapped width/height would show


def _images(n=10, c=1, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(n, H, W, c), dtype=np.uint8)


@pytest.mark.parametrize("c, mode", [(1, "L"), (3, "RGB")])
def test_make_grid_size_and_content(c, mode):
    n, ncol, scale, pad = 10, 4, 2, 2
    images = _images(n, c)
    grid = make_grid(images, ncol=ncol, scale=scale, pad=pad)
    nrow = -(-n // ncol)  # 3
    assert grid.mode == mode
    assert grid.size == ((ncol * (W + pad) + pad) * scale, (nrow * (H + pad) + pad) * scale) == (76, 46)
    a = np.asarray(grid)
    if c == 1:
        a = a[..., None]
    # image i sits at row i // ncol, column i % ncol, each pixel repeated scale×scale
    for i in (0, 5, 9):
        r, q = divmod(i, ncol)
        top, left = (pad + r * (H + pad)) * scale, (pad + q * (W + pad)) * scale
        cell = a[top : top + H * scale, left : left + W * scale]
        np.testing.assert_array_equal(cell[::scale, ::scale], images[i])
        np.testing.assert_array_equal(cell[1::scale, 1::scale], images[i])
    assert (a[:pad * scale] == 128).all() and (a[:, :pad * scale] == 128).all()
    # the two empty slots of the last row stay background grey
    top, left = (pad + 2 * (H + pad)) * scale, (pad + 2 * (W + pad)) * scale
    assert (a[top:, left:] == 128).all()


def test_make_grid_no_scale():
    grid = make_grid(_images(3), ncol=3, scale=1, pad=0)
    assert grid.size == (3 * W, H)
    np.testing.assert_array_equal(np.asarray(grid)[:, W : 2 * W], _images(3)[1, ..., 0])


def test_save_image_png(tmp_path):
    grid = make_grid(_images(4, 3), ncol=2)
    save_image(grid, tmp_path / "g.png")
    with Image.open(tmp_path / "g.png") as im:
        assert im.format == "PNG" and im.size == grid.size
        np.testing.assert_array_equal(np.asarray(im), np.asarray(grid))
    assert os.listdir(tmp_path) == ["g.png"]


@pytest.mark.parametrize("n", [1, 4])
def test_save_gif_frame_count(tmp_path, n):
    frames = [Image.fromarray(np.full((8, 8), 30 * k + 10, np.uint8), "L") for k in range(n)]
    save_gif(frames, tmp_path / "chain.gif", ms_per_frame=40)
    with Image.open(tmp_path / "chain.gif") as im:
        assert im.format == "GIF" and im.size == (8, 8)
        assert getattr(im, "n_frames", 1) == n
        if n > 1:
            im.seek(n - 1)
            assert im.info["duration"] == 40 * 20
    assert os.listdir(tmp_path) == ["chain.gif"]


# --------------------------------------------------------------------------- .npz contract


def _contract(n=6, c=1, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28, c), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n).astype(np.int64)
    prob = rng.random(n).astype(np.float32)
    return images, labels, prob


@pytest.mark.parametrize("c", [1, 3])
def test_npz_round_trip(tmp_path, c):
    images, labels, prob = _contract(c=c)
    save_npz(tmp_path / "s.npz", images, labels, prob, steps=np.arange(3))
    data = load_npz(tmp_path / "s.npz", num_classes=10)
    assert data["images"].dtype == np.uint8 and data["labels"].dtype == np.int64 and data["prob"].dtype == np.float32
    np.testing.assert_array_equal(data["images"], images)
    np.testing.assert_array_equal(data["labels"], labels)
    np.testing.assert_array_equal(data["prob"], prob)
    np.testing.assert_array_equal(data["steps"], np.arange(3))
    assert os.listdir(tmp_path) == ["s.npz"]


def test_save_npz_casts(tmp_path):
    images, labels, prob = _contract()
    save_npz(tmp_path / "s.npz", images.astype(np.int32), labels.astype(np.int32), prob.astype(np.float64))
    data = load_npz(tmp_path / "s.npz")
    np.testing.assert_array_equal(data["labels"], labels)


def _bad(tmp_path, **overrides):
    images, labels, prob = _contract()
    arrays = {"images": images, "labels": labels, "prob": prob, **overrides}
    arrays = {k: v for k, v in arrays.items() if v is not None}
    np.savez(tmp_path / "bad.npz", **arrays)
    return tmp_path / "bad.npz"


@pytest.mark.parametrize(
    "overrides, words",
    [
        ({"prob": None}, ["missing", "prob"]),
        ({"labels": np.zeros(6, np.int32)}, ["labels", "int32"]),
        ({"images": np.zeros((6, 28, 28), np.uint8)}, ["images", "shape"]),
        ({"images": np.zeros((6, 28, 28, 2), np.uint8)}, ["images", "shape"]),
        ({"prob": np.zeros(5, np.float32)}, ["prob", "shape"]),
        ({"labels": np.array([0, 1, 2, 3, 4, 10])}, ["labels", "0..9"]),
        ({"labels": np.array([0, 1, 2, 3, 4, -1])}, ["labels", "0..9"]),
    ],
)
def test_load_npz_errors(tmp_path, overrides, words):
    path = _bad(tmp_path, **overrides)
    with pytest.raises(ValueError) as info:
        load_npz(path, num_classes=10)
    msg = str(info.value)
    assert "\n" not in msg and str(path) in msg
    for w in words:
        assert w in msg


def test_labels_range_only_checked_with_num_classes(tmp_path):
    path = _bad(tmp_path, labels=np.array([0, 1, 2, 3, 4, 10]))
    assert load_npz(path)["labels"].max() == 10
    assert load_npz(path, num_classes=11)["labels"].max() == 10


@pytest.mark.parametrize("content", [b"this is not a zip file\n", b"", b"PK\x03\x04garbage"])
def test_load_npz_not_npz(tmp_path, content):
    (tmp_path / "x.npz").write_bytes(content)
    with pytest.raises(ValueError) as info:
        load_npz(tmp_path / "x.npz")
    msg = str(info.value)
    assert "\n" not in msg and "npz" in msg


def test_load_npz_missing_file(tmp_path):
    with pytest.raises(ValueError) as info:
        load_npz(tmp_path / "nope.npz")
    msg = str(info.value)
    assert "\n" not in msg and "no such file" in msg and "nope.npz" in msg
