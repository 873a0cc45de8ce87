"""Files in and out, in one place: atomic writes, JSON, the ``.npz`` sample contract, image grids
(PNG), chain animations (GIF), and the one image reader.

Every writer goes through a temporary file and a rename, so an interrupted run never leaves
half a file behind; inside ``all_or_none()`` the renames wait until every output is written, so
a run with several outputs writes all of them or none. Nothing here knows about networks.
"""

from __future__ import annotations

import io
import json
import os
import math
import tempfile
import warnings
import zipfile
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PIL import Image, UnidentifiedImageError

NPZ_KEYS = {"images": np.uint8, "labels": np.int64, "prob": np.float32}
_STAGED: ContextVar[list[tuple[str, Path]] | None] = ContextVar("staged", default=None)


@contextmanager
def all_or_none():
    """Write several outputs as one: each writer inside fills its temporary file, and only when the
    block ends without an error are they all renamed into place; on an error none is.

        >>> folder = Path(tempfile.mkdtemp())
        >>> try:
        ...     with all_or_none():
        ...         write_text(folder / "a.txt", "a")
        ...         raise OSError("the second output failed")
        ... except OSError:
        ...     pass
        >>> sorted(p.name for p in folder.iterdir())
        []
    """
    staged: list[tuple[str, Path]] = []
    token = _STAGED.set(staged)
    try:
        yield
    except BaseException:
        for tmp, _ in staged:
            Path(tmp).unlink(missing_ok=True)
        raise
    finally:
        _STAGED.reset(token)
    for tmp, path in staged:
        os.replace(tmp, path)


def atomic_write(path: str | Path, write: Callable[[str], Any]) -> None:
    """Write through a temporary file in the same folder, so a crash never leaves half a file.

    Args:
        write: called with the temporary file's path; it writes the whole content there.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; give the usual permissions
        staged = _STAGED.get()
        if staged is None:
            os.replace(tmp, path)
        else:
            staged.append((tmp, path))  # renamed when the all_or_none block ends
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _strict_json(value: Any) -> Any:
    """``value`` with NaN and infinities as null: bare ``NaN`` is not JSON to most parsers."""
    if isinstance(value, dict):
        return {k: _strict_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict_json(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def write_json(path: str | Path, value: Any, default: Callable[[Any], Any] | None = None) -> None:
    """``value`` as indented, strict JSON (NaN → null), atomically (``default`` converts what JSON cannot hold)."""
    if default is not None:  # convert first, so that converted values are made strict too
        value = json.loads(json.dumps(value, default=default))
    write_text(path, json.dumps(_strict_json(value), indent=2, allow_nan=False) + "\n")


def write_text(path: str | Path, text: str) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def write_bytes(path: str | Path, data: bytes) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))


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
    write_bytes(path, buffer.getvalue())


def save_gif(frames: list[Image.Image], path: str | Path, ms_per_frame: int = 60) -> None:
    """An animation that loops, holding the last frame a little longer."""
    buffer = io.BytesIO()
    durations = [ms_per_frame] * (len(frames) - 1) + [ms_per_frame * 20]
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=durations, loop=0)
    write_bytes(path, buffer.getvalue())


def save_npz(path: str | Path, images: np.ndarray, labels: np.ndarray, prob: np.ndarray, **extra) -> None:
    """Write the sample contract: images uint8 (N, H, W, C), labels int64 (N,), prob float32 (N,)."""
    arrays = {"images": images.astype(np.uint8), "labels": labels.astype(np.int64), "prob": prob.astype(np.float32)}
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays, **extra)
    write_bytes(path, buffer.getvalue())


class NpzWriter:
    """Append blocks of the sample contract and write one ``.npz`` at the end, never holding it all.

    Each key's blocks go to a raw file beside the target; ``close`` writes an uncompressed
    ``.npz`` (each member a ``.npy`` header and the raw bytes, streamed) through a temporary file
    and a rename, and removes the raw files. Uncompressed members can be memory-mapped again
    (``load_npz(path, mmap=True)``), so files larger than memory can be scored.

        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "s.npz"
        >>> with NpzWriter(path) as w:
        ...     for k in range(3):
        ...         w.add(np.full((2, 4, 4, 1), k, np.uint8), np.full(2, k), np.ones(2))
        >>> load_npz(path, mmap=True)["labels"].tolist()
        [0, 0, 1, 1, 2, 2]
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.parts = {key: self.path.parent / f".{self.path.name}.{key}.part" for key in NPZ_KEYS}
        self.files = {key: open(part, "wb") for key, part in self.parts.items()}
        self.shapes: dict[str, tuple[int, ...] | None] = dict.fromkeys(NPZ_KEYS)
        self.count = 0

    def add(self, images: np.ndarray, labels: np.ndarray, prob: np.ndarray) -> None:
        """Append N samples: images uint8 (N, H, W, C), labels (N,), prob (N,)."""
        for key, value in zip(NPZ_KEYS, (images, labels, prob)):
            value = np.ascontiguousarray(value, dtype=NPZ_KEYS[key])
            if self.shapes[key] not in (None, value.shape[1:]):
                raise ValueError(f"{self.path}: a block of {key!r} has shape {value.shape}, the others {self.shapes[key]}")
            self.shapes[key] = value.shape[1:]
            self.files[key].write(value.tobytes())
        self.count += len(labels)

    def close(self) -> None:
        for f in self.files.values():
            f.close()
        try:
            atomic_write(self.path, self._write_zip)
        finally:
            for part in self.parts.values():
                part.unlink(missing_ok=True)

    def _write_zip(self, tmp: str) -> None:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
            for key, part in self.parts.items():
                header = {"descr": np.lib.format.dtype_to_descr(np.dtype(NPZ_KEYS[key])), "fortran_order": False,
                          "shape": (self.count, *(self.shapes[key] or ()))}
                with archive.open(f"{key}.npy", "w", force_zip64=True) as member, open(part, "rb") as raw:
                    np.lib.format.write_array_header_2_0(member, header)
                    while chunk := raw.read(1 << 24):
                        member.write(chunk)

    def __enter__(self) -> "NpzWriter":
        return self

    def __exit__(self, kind, *_) -> None:
        if kind is None:
            self.close()
        else:  # failed half-way: nothing is written
            for f in self.files.values():
                f.close()
            for part in self.parts.values():
                part.unlink(missing_ok=True)


def _mapped_npz(path: Path) -> dict[str, np.ndarray]:
    """The members of an ``.npz``: memory-mapped where stored uncompressed, else read into memory."""
    data = {}
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            key = info.filename.removesuffix(".npy")
            if info.compress_type != zipfile.ZIP_STORED:
                with archive.open(info) as member:
                    data[key] = np.lib.format.read_array(member, allow_pickle=False)
                continue
            with open(path, "rb") as f:
                f.seek(info.header_offset + 26)
                name_len, extra_len = np.frombuffer(f.read(4), "<u2")
                f.seek(info.header_offset + 30 + int(name_len) + int(extra_len))
                read_header = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
                shape, fortran, dtype = read_header[np.lib.format.read_magic(f)](f)
                offset = f.tell()
            data[key] = np.memmap(path, dtype, "r", offset, shape, "F" if fortran else "C") if np.prod(shape) else np.empty(shape, dtype)
    return data


def load_npz(path: str | Path, num_classes: int | None = None, mmap: bool = False) -> dict[str, np.ndarray]:
    """Read and check a file that follows the sample contract; one-line ValueError if it does not.

    Args:
        mmap: memory-map uncompressed members (as ``NpzWriter`` writes them) instead of reading
            them: the arrays are then read from disk as they are used.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no such file: {path}")
    try:
        if mmap:
            data = _mapped_npz(path)
        else:
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


def read_image(path: str | Path, channels: int = 1, size: int | None = None, resize: bool = False, what: str = "image") -> np.ndarray:
    """Read an image file as uint8 (H, W, C): the one reader behind every command that takes an image.

    Transparent pixels become white, as on a page; colour is converted to grey (``channels=1``,
    ITU-R 601 luma, as PIL's mode "L") or grey to RGB (``channels=3``).

    Args:
        size: the side the image must have; with ``resize`` it is resized (bilinear) to it instead.
        what: how errors name the file ("image", "mask").

    Raises:
        ValueError: one line naming the file: unreadable, or of the wrong size.
    """
    try:
        with warnings.catch_warnings():  # a picture large enough to warn about is refused, not decoded
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(path)
            image.load()
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise ValueError(f"cannot read {what} {path}: {str(err).splitlines()[0] if str(err) else type(err).__name__}") from None
    if image.mode in ("RGBA", "LA", "P", "PA"):
        image = Image.alpha_composite(Image.new("RGBA", image.size, (255, 255, 255, 255)), image.convert("RGBA"))
    image = image.convert("L" if channels == 1 else "RGB")
    if size is not None and image.size != (size, size):
        if not resize:
            raise ValueError(f"{path}: {what} must be {size}×{size} pixels, got {image.size[0]}×{image.size[1]}")
        image = image.resize((size, size), Image.BILINEAR)
    array = np.asarray(image)
    return array[..., None] if array.ndim == 2 else array
