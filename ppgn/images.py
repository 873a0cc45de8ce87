"""Writing results: image grids (PNG), chain animations (GIF), the ``.npz`` sample contract.

Every writer goes through a temporary file and a rename, so an interrupted run never leaves
half a file behind.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from .models.io import atomic_write

NPZ_KEYS = {"images": np.uint8, "labels": np.int64, "prob": np.float32}


def make_grid(array: np.ndarray, ncol: int, scale: int = 2, pad: int = 2) -> Image.Image:
    """uint8 (N, H, W, C) → one PIL image, ``ncol`` images a row, each upscaled ``scale``×."""
    n, h, w, c = array.shape
    nrow = -(-n // ncol)
    canvas = np.full((nrow * (h + pad) + pad, ncol * (w + pad) + pad, c), 128, np.uint8)
    for i, img in enumerate(array):
        r, q = divmod(i, ncol)
        canvas[pad + r * (h + pad) : pad + r * (h + pad) + h, pad + q * (w + pad) : pad + q * (w + pad) + w] = img
    mode = "L" if c == 1 else "RGB"
    grid = Image.fromarray(canvas.squeeze(-1) if c == 1 else canvas, mode)
    return grid.resize((grid.width * scale, grid.height * scale), Image.NEAREST) if scale > 1 else grid


def save_image(image: Image.Image, path: str | Path) -> None:
    path = Path(path)
    fmt = {".png": "PNG", ".gif": "GIF", ".jpg": "JPEG", ".jpeg": "JPEG"}.get(path.suffix.lower(), "PNG")
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(buffer.getvalue()))


def save_gif(frames: list[Image.Image], path: str | Path, ms_per_frame: int = 60) -> None:
    """An animation that loops, holding the last frame a little longer."""
    buffer = io.BytesIO()
    durations = [ms_per_frame] * (len(frames) - 1) + [ms_per_frame * 20]
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=durations, loop=0)
    atomic_write(Path(path), lambda tmp: Path(tmp).write_bytes(buffer.getvalue()))


def save_npz(path: str | Path, images: np.ndarray, labels: np.ndarray, prob: np.ndarray, **extra) -> None:
    """Write the sample contract: images uint8 (N, H, W, C), labels int64 (N,), prob float32 (N,)."""
    arrays = {"images": images.astype(np.uint8), "labels": labels.astype(np.int64), "prob": prob.astype(np.float32)}
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays, **extra)
    atomic_write(Path(path), lambda tmp: Path(tmp).write_bytes(buffer.getvalue()))


def load_npz(path: str | Path, num_classes: int | None = None) -> dict[str, np.ndarray]:
    """Read and check a file that follows the sample contract; one-line ValueError if it does not."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no such file: {path}")
    try:
        with np.load(path, allow_pickle=False) as f:
            data = {k: f[k] for k in f.files}
    except Exception as err:  # zip or format errors: all mean "not a valid .npz"
        raise ValueError(f"{path}: not a readable .npz file ({type(err).__name__})") from None
    for key, dtype in NPZ_KEYS.items():
        if key not in data:
            raise ValueError(f"{path}: missing key {key!r}; a samples file needs {', '.join(NPZ_KEYS)}")
        if data[key].dtype != dtype:
            raise ValueError(f"{path}: {key!r} has dtype {data[key].dtype}, expected {np.dtype(dtype)}")
    images, labels, prob = data["images"], data["labels"], data["prob"]
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(f"{path}: 'images' must have shape (N, H, W, C) with C in (1, 3), got {images.shape}")
    n = len(images)
    for key in ("labels", "prob"):
        if data[key].shape != (n,):
            raise ValueError(f"{path}: {key!r} must have shape ({n},), got {data[key].shape}")
    if num_classes is not None and n and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"{path}: labels must lie in 0..{num_classes - 1}, found {labels.min()}..{labels.max()}")
    return data
