"""Reader for the IDX format of (Fashion-)MNIST: a magic number, the dimensions, raw data."""

from __future__ import annotations

import gzip
import io
import math
import struct
import zlib
from pathlib import Path

import numpy as np

from ..io import atomic_write

# The third byte of the magic number names the element type.
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
MAX_IDX_BYTES = 2**32  # 4 GiB: ~90 times MNIST's training images; a header asking for more is not a dataset
_CHUNK = 1 << 24


def _read_exactly(f, count: int) -> bytes:
    """``count`` bytes from ``f`` (fewer at its end), in chunks: never more memory than the file really holds."""
    parts, left = [], count
    while left > 0:
        chunk = f.read(min(left, _CHUNK))
        if not chunk:
            break
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (optionally gzipped) into a NumPy array.

    The header is read first and the data is then read in chunks up to the size it declares, so a
    header with absurd dimensions, or a gzip bomb, is refused before memory is spent on it.

    Args:
        path: file path; a name ending in ``.gz`` is decompressed.

    Returns:
        the array, with the shape stored in the file's header.

    Raises:
        ValueError: the file is not a well-formed IDX file (one line naming it).
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            head = f.read(4)
            if len(head) < 4 or head[0] != 0 or head[1] != 0:
                raise ValueError(f"{path}: not an IDX file (bad magic number)")
            type_code, ndim = head[2], head[3]
            if type_code not in _IDX_DTYPES:
                raise ValueError(f"{path}: unknown IDX element type 0x{type_code:02x}")
            dims = f.read(4 * ndim)
            if len(dims) < 4 * ndim:
                raise ValueError(f"{path}: truncated IDX header")
            shape = struct.unpack(f">{ndim}I", dims)
            dtype = np.dtype(_IDX_DTYPES[type_code])
            expected = math.prod(shape) * dtype.itemsize
            if expected > MAX_IDX_BYTES:
                raise ValueError(f"{path}: the header's shape {shape} needs {expected} bytes, more than {MAX_IDX_BYTES}; not a dataset file")
            data = _read_exactly(f, expected)
            extra = len(f.read(1))
    except (EOFError, OSError, zlib.error, gzip.BadGzipFile) as err:
        raise ValueError(f"{path}: corrupt or truncated file ({str(err).splitlines()[0] if str(err) else type(err).__name__})") from None
    if len(data) != expected or extra:
        found = f"{len(data)}" if not extra else f"more than {len(data)}"
        raise ValueError(f"{path}: expected {expected} data bytes for shape {shape}, found {found}")
    return np.frombuffer(data, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


def idx_bytes(array: np.ndarray, gz: bool = False) -> bytes:
    """An array as the bytes of an IDX file (gzipped if ``gz``)."""
    codes = {np.dtype(v).newbyteorder("="): k for k, v in _IDX_DTYPES.items()}
    code = codes.get(array.dtype.newbyteorder("="))
    if code is None:
        raise ValueError(f"dtype {array.dtype} has no IDX type code; valid: {sorted(map(str, codes))}")
    raw = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.astype(_IDX_DTYPES[code]).tobytes()
    if not gz:
        return raw
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as f:  # mtime 0: the same array, the same bytes
        f.write(raw)
    return buffer.getvalue()


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write an array as an IDX file (gzipped if the name ends in ``.gz``), through a temporary file and a rename."""
    path = Path(path)
    data = idx_bytes(array, gz=path.suffix == ".gz")
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))
