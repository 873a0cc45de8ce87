"""Your own images: a folder with one subfolder per class, ``root/<class>/*.png|jpg|webp``, as a torch ``Dataset``.

    root/
      cats/  a.png  b.jpg  more/c.webp     ← class "cats" (files in nested folders count too)
      dogs/  ...

Classes are the sorted names of the subfolders of ``root``; a class's files are every file
below its folder, sorted by relative path. Hidden files and folders (a leading ".") and files
lying directly in ``root`` are ignored. Within each class the 10th, 20th, ... file is the test
split (``split_indices``: a fixed rule, no seed, the same on every machine).

Nothing is held in memory but the file list: an item is read with Pillow when asked for, so a
``DataLoader`` with workers (``make_loader``) streams the images. Reading one: EXIF orientation
applied, transparency composited on white, converted to grey ("L") or RGB, the centred square
(the short side) cut out and resized to S×S with Lanczos, scaled to [-1, 1] as ``to_tensor`` does.

At construction one pass opens every file's header (no pixels decoded) and decides:

* **bad files and empty class folders**: a file Pillow cannot identify (a .txt, a corrupt
  image) or a class folder with no image refuses the folder with a one-line ``ValueError`` that
  names the path; with ``skip_bad=True`` they are left out and listed in ``dataset.skipped``
  (a file whose header reads but whose pixels are truncated fails later, when read, with a
  one-line ``ValueError`` naming it); so does an image of more than ``MAX_PIXELS`` pixels (a
  decompression bomb: a 30000×30000 PNG is tiny on disk), refused from its header, never decoded;
* **channels** (unless given): RGB if any image is colour (any mode but 1, L, LA, I*, F;
  palette images count as colour), else grey; grey images in a colour set are repeated over RGB,
  colour images in a grey set (``channels=1``) are converted by ITU-R 601 luma;
* **size** (unless given): the largest of 28, 32, 64, 128 not above the median short side
  (``infer_size``); images of any size and shape are then cut to their centred square;
* **fingerprint**: SHA-256 over the split's sorted relative paths and file sizes (the contents
  are not read), with a one-line summary.

Fewer than two classes (after skipping) is refused: a class-conditional model needs two.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from .datasets import (
    DataNotFoundError,
    Fingerprint,
    check_channels,
    check_size,
    check_split,
    fit_square,
    flatten,
    infer_size,
    make_loader,
    open_image,
    pil_to_tensor,
    split_indices,
    to_uint8,
)

GREY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"}
READABLE = "png, jpg, webp, bmp, gif, tiff"
SKIP_HINT = "remove it or pass skip_bad=True (--skip-bad) to leave {} out"
_READ_ERRORS = (OSError, ValueError, SyntaxError, Image.DecompressionBombError)


def _reason(err: BaseException) -> str:
    if isinstance(err, UnidentifiedImageError):
        return "not an image Pillow can read"
    if isinstance(err, Image.DecompressionBombError):
        return f"image too large: {' '.join(str(err).split())}"
    text = str(err).splitlines()[0] if str(err) else ""
    return text or type(err).__name__


def _visible_files(folder: Path) -> list[Path]:
    """Every file below ``folder`` whose relative path has no hidden part, sorted by relative path."""
    found = [p for p in folder.rglob("*") if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)]
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


@dataclass
class _Scan:
    """What one pass over the headers found."""

    classes: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    nbytes: list[int] = field(default_factory=list)
    short_sides: list[int] = field(default_factory=list)
    colour: bool = False
    skipped: list[Path] = field(default_factory=list)


def scan_folder(root: Path, skip_bad: bool = False) -> _Scan:
    """Open every header below ``root`` once; refuse (or, with ``skip_bad``, skip) bad files and empty class folders.

    Raises:
        DataNotFoundError: ``root`` is missing, has no class folders, or no images at all.
        ValueError: a bad file, an empty class folder, or fewer than two classes: one line naming the path.
    """
    if not root.is_dir():
        raise DataNotFoundError(f"image folder not found: {root}")
    class_dirs = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not class_dirs:
        raise DataNotFoundError(f"no class folders in {root}; expected {root}/<class>/*.png|jpg|webp, one folder per class")
    scan = _Scan()
    for class_dir in class_dirs:
        found = []
        for path in _visible_files(class_dir):
            try:
                with open_image(path) as image:
                    mode, (w, h) = image.mode, image.size
            except _READ_ERRORS as err:
                if not skip_bad:
                    raise ValueError(f"{path}: {_reason(err)} (readable: {READABLE}); {SKIP_HINT.format('such files')}") from None
                scan.skipped.append(path)
                continue
            found.append((path, path.stat().st_size, min(w, h), mode not in GREY_MODES))
        if not found:
            if not skip_bad:
                raise ValueError(f"{class_dir}: class folder has no images (readable: {READABLE}); {SKIP_HINT.format('empty class folders')}")
            scan.skipped.append(class_dir)
            continue
        for path, nbytes, short, colour in found:
            scan.files.append(path)
            scan.labels.append(len(scan.classes))
            scan.nbytes.append(nbytes)
            scan.short_sides.append(short)
            scan.colour |= colour
        scan.classes.append(class_dir.name)
    if not scan.classes:
        raise DataNotFoundError(f"no images in {root} ({len(scan.skipped)} bad files or empty folders skipped)")
    if len(scan.classes) < 2:
        raise ValueError(f"{root}: only one class folder with images ({scan.classes[0]!r}); a class-conditional "
                         f"model needs at least 2: {root}/<class>/*.png, one folder per class")
    return scan


class FolderDataset(torch.utils.data.Dataset):
    """A split of a class-per-subfolder image tree; items (float32 (C, S, S) in [-1, 1], int64 label).

    Args:
        root: the folder holding one subfolder per class.
        split: "train" or "test" (the 10th, 20th, ... file of each class).
        size: side S, one of 28, 32, 64, 128; None: from the data (``infer_size``).
        channels: 1 or 3; None: RGB if any image is colour, else grey.
        skip_bad: leave out files that are not images and empty class folders (listed in ``skipped``)
            instead of refusing the folder.
    """

    augment = None  # no augmentation is assumed right for images we know nothing about
    background = None  # unknown: a shift repeats the border

    def __init__(self, root: str | Path, split: str = "train", size: int | None = None,
                 channels: int | None = None, skip_bad: bool = False):
        check_split(split)
        check_size(size)
        check_channels(channels)
        self.root, self.split = Path(root), split
        scan = scan_folder(self.root, skip_bad)
        self.classes = tuple(scan.classes)
        self.size = size or infer_size(scan.short_sides)
        self.channels = channels or (3 if scan.colour else 1)
        self.skipped = tuple(scan.skipped)
        keep = split_indices(np.array(scan.labels), split)
        self.files = [scan.files[i] for i in keep]
        self.labels = np.array(scan.labels, dtype=np.int64)[keep]
        self.name = str(self.root)
        h = hashlib.sha256()
        for i in keep:
            h.update(f"{scan.files[i].relative_to(self.root).as_posix()}\t{scan.nbytes[i]}\n".encode())
        megabytes = sum(scan.nbytes[i] for i in keep) / 1e6
        skipped = f", {len(self.skipped)} bad files or empty folders skipped" if self.skipped else ""
        self.fingerprint = Fingerprint(h.hexdigest(), (
            f"folder {self.root}: {split} split, {len(keep)} of {len(scan.files)} images (every 10th of each class "
            f"is test), {len(self.classes)} classes, {megabytes:.1f} MB{skipped}"))

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (self.channels, self.size, self.size)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.read(self.files[i]), torch.tensor(self.labels[i], dtype=torch.int64)

    def read(self, path: Path) -> torch.Tensor:
        """One image file as float32 (C, S, S) in [-1, 1]; a one-line ``ValueError`` naming it if it cannot be read."""
        try:
            with open_image(path) as image:
                if image.format == "JPEG":  # decode at a reduced scale when the file is much larger than S
                    scale = self.size / min(image.size)
                    image.draft("L" if self.channels == 1 else "RGB", (math.ceil(image.width * scale), math.ceil(image.height * scale)))
                image = ImageOps.exif_transpose(image)
                return pil_to_tensor(fit_square(flatten(image, self.channels), self.size))
        except _READ_ERRORS as err:
            raise ValueError(f"cannot read image {path}: {_reason(err)}") from None

    def arrays(self, num_workers: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """All images of the split as uint8 (N, S, S, C) and labels int64 (N,): for small sets only."""
        batches = [to_uint8(x) for x, _ in make_loader(self, batch_size=256, num_workers=num_workers)]
        images = np.concatenate(batches) if batches else np.zeros((0, self.size, self.size, self.channels), np.uint8)
        return images, self.labels

    def __repr__(self) -> str:
        return f"FolderDataset({str(self.root)!r}, {self.split!r}, {len(self)} images, shape {self.image_shape}, classes {self.classes})"


def write_folder(dataset, root: str | Path, num: int | None = None) -> int:
    """Write a dataset's images as a class-per-subfolder tree of PNGs, ``root/<class>/<i>.png``.

    What ``FolderDataset`` reads back; a way to try the folder path on known data, or to look at a set.

    Args:
        dataset: a torch dataset of (x (C, S, S) in [-1, 1], label) with ``classes`` (``open_dataset``'s).
        num: how many images, taken round-robin over the classes so that each keeps its share; None: all.
    Returns:
        the number of images written.

    Raises:
        FileExistsError: ``root`` exists and is not empty (nothing is overwritten).
        ValueError: ``num`` is not a positive count, or more than the dataset holds.

    The images go to a hidden temporary folder beside ``root``, renamed to ``root`` only when all
    are written: a run that fails half-way leaves no partial folder.
    """
    root = Path(root)
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise FileExistsError(f"{root} exists and is not empty; choose a new folder")
    labels = np.asarray(dataset.labels)
    by_class = [list(np.flatnonzero(labels == k)) for k in range(len(dataset.classes))]
    order = [i for group in itertools.zip_longest(*by_class) for i in group if i is not None]
    if num is not None and not 0 < num <= len(order):
        raise ValueError(f"--num {num}: {getattr(dataset, 'name', 'the dataset')} has {len(order)} images to write; "
                         f"give 1..{len(order)}, or no --num for all")
    chosen = order[: len(order) if num is None else num]
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{root.name}.", suffix=".tmp", dir=root.parent))
    try:
        for i in chosen:
            x, y = dataset[int(i)]
            folder = staging / dataset.classes[int(y)].replace("/", "-")
            folder.mkdir(exist_ok=True)
            array = to_uint8(x[None])[0]
            Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array).save(folder / f"{int(i):06d}.png")
        staging.chmod(0o777 & ~_umask())  # mkdtemp makes 0700 folders; give the usual permissions
        if root.is_dir():
            root.rmdir()  # empty (checked above): the finished folder takes its place
        staging.rename(root)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return len(chosen)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
