"""Colour images available offline: the colour emoji of Debian's ``fonts-noto-color-emoji``, or any image folder.

    sudo apt-get install fonts-noto-color-emoji

NotoColorEmoji is a bitmap (CBDT) font: Pillow loads it only at size 109. **The unlabelled
colour set** (``load_colour_images``, for the colourisation recipe): every glyph is rendered at
that size, composited on white, cropped to a square around its ink and downscaled (box filter)
to ``size``×``size`` RGB. Every tenth glyph in codepoint order is held out as the test split.
The rendering is cached once as ``<data dir>/emoji/emoji-<size>.npz`` (written atomically; a damaged
cache is rendered again, or, where it cannot be, refused in one line that names it).

With ``PPGN_SYSTEM_DATA=0`` the system locations are skipped: the font's default path and the
default cache ``~/.cache/ppgn`` (a cache in ``--data-dir`` or ``$PPGN_DATA`` still counts).

**The ``emoji`` dataset** (``emoji_dataset``, ``open_dataset("emoji")``) is labelled: the emoji
of Unicode's ``emoji-test.txt`` (Debian's ``unicode-data``, ``/usr/share/unicode/emoji/``),
classed by its group, each drawn from its full code-point sequence (ZWJ sequences, keycaps and
flags included) with Pillow's text layout at the font's one size, 109, then cut to the square
around its ink and resized (Lanczos) to 64×64 (or ``size``), on white.

    sudo apt-get install fonts-noto-color-emoji unicode-data

Which emoji, which classes (Unicode 15.0, Noto Color Emoji 2.042: 1,870 emoji):

* only the *fully-qualified* sequences (3,655): the other statuses draw the same pictures;
* **no skin-tone variants** (the 1,785 sequences holding U+1F3FB..U+1F3FF, all in People & Body):
  each is the default person or hand recoloured, so they would make People & Body 59% of the
  set and put near-copies of every test image in the train split. Hair styles and genders are
  different drawings and stay;
* group **Component** (9 swatches: skin tones, hair) is not emoji on its own and is dropped;
* **Activities (85) and Objects (261) are one class**, "Activities/Objects": Activities is the
  smallest group (8 test images by the split), and the two hold the same kind of picture, things
  people make and use, split by use rather than by look: 🎨 artist palette, 🧵 thread, 🎮 video
  game are Activities, 🖌️ paintbrush, 🖍️ crayon, 🖱️ computer mouse are Objects (Unicode itself
  calls its groups illustrative). A class the image cannot show only teaches a model noise;
* **Flags stay**: at 64 px a Noto flag is a waved rectangle of flat colour, the most
  recognisable class of all (which flag it is does not matter for the class).

So 8 classes (``EMOJI_CLASSES``), train + test = 1,870: Smileys & Emotion 166, People & Body 363,
Animals & Nature 152, Food & Drink 133, Travel & Places 218, Activities/Objects 346,
Symbols 223, Flags 269. The test split is the 10th, 20th, ... emoji of each class in the file's
(CLDR) order, so it spreads over the subgroups (183 test images, 1,687 train).
The rendered set is cached as ``<data dir>/emoji/emoji-groups-v1-<size>.npz`` (the project's
.npz contract plus ``classes``, ``names``, ``sequences`` and ``source``), written atomically.
``emoji-test.txt`` and the font are also looked for in ``<data dir>/emoji/``.

**Augmentation** (``augment_emoji``; the dataset's ``augment``): 1,687 training images are few
for a generator, so the training loop may apply small random shifts (±1/16 of the side) and
scales (±10%) to each batch, filling with white; every emoji stays a valid emoji of its class.
No horizontal flips: they mirror the text of keycaps and signs (🔟, 🆗, ATM), flags (🇵🇹),
clocks, and turn 👉 into 👈 (a different emoji) and arrows into other arrows. No colour jitter:
colour is what the set is for (colourisation) and often tells the class (yellow faces, flags).
No rotations: every emoji is drawn upright.
"""

from __future__ import annotations

import hashlib
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..io import atomic_write, check_number, load_npz, save_npz
from .datasets import (
    ArrayDataset,
    DataNotFoundError,
    Fingerprint,
    check_channels,
    check_size,
    check_split,
    named_data_dir,
    open_image,
    sha256_arrays,
    skipped_note,
    split_indices,
    system_data_enabled,
)

EMOJI_FONT = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
EMOJI_TEST = Path("/usr/share/unicode/emoji/emoji-test.txt")
EMOJI_SIZE = 64
EMOJI_CLASSES = (
    "Smileys & Emotion", "People & Body", "Animals & Nature", "Food & Drink",
    "Travel & Places", "Activities/Objects", "Symbols", "Flags",
)  # fmt: skip
GROUP_CLASS = {
    "Smileys & Emotion": 0, "People & Body": 1, "Animals & Nature": 2, "Food & Drink": 3,
    "Travel & Places": 4, "Activities": 5, "Objects": 5, "Symbols": 6, "Flags": 7,
}  # fmt: skip
DROPPED_GROUPS = ("Component",)
SKIN_TONES = range(0x1F3FB, 0x1F400)
GROUPS_VERSION = 1  # in the cache's name: raise it when the choice of emoji, the classes or the rendering change
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
SPLITS = ("train", "test")
MAX_COLOUR_SIZE = 512  # the glyphs are drawn at 109 px: a larger side only upsamples them


def _codepoints(font_path: Path) -> list[int]:
    """The font's single-codepoint glyphs above U+2000 (fontTools if present, else the emoji blocks)."""
    try:
        from fontTools.ttLib import TTFont

        return sorted(c for c in TTFont(str(font_path), lazy=True)["cmap"].getBestCmap() if c > 0x2000)
    except ImportError:
        return [*range(0x2600, 0x27C0), *range(0x1F300, 0x1FB00)]


def render_emoji(size: int = 16, font_path: str | Path | None = None) -> np.ndarray:
    """Every glyph of the colour-emoji font as uint8 (N, size, size, 3) RGB on white.

    ``font_path`` defaults to Debian's ``EMOJI_FONT``, a system location: with
    ``PPGN_SYSTEM_DATA=0`` there is then no font.
    """
    from PIL import Image, ImageDraw, ImageFont

    if font_path is None and not system_data_enabled():
        raise DataNotFoundError(f"colour emoji font not looked for at {EMOJI_FONT}{skipped_note()}; "
                                "a folder of images works instead")
    font_path = Path(EMOJI_FONT if font_path is None else font_path)
    if not font_path.is_file():
        raise DataNotFoundError(f"colour emoji font not found at {font_path}; install it with 'sudo apt-get install fonts-noto-color-emoji'")
    font = ImageFont.truetype(str(font_path), 109)  # the only size of its bitmaps
    images = []
    for cp in _codepoints(font_path):
        canvas = Image.new("RGBA", (160, 160), (255, 255, 255, 0))
        ImageDraw.Draw(canvas).text((0, 0), chr(cp), font=font, embedded_color=True)
        box = canvas.getbbox()
        if box is None:  # no glyph drawn
            continue
        side = max(box[2] - box[0], box[3] - box[1])
        cx, cy = (box[0] + box[2]) // 2, (box[1] + box[3]) // 2
        square = (cx - side // 2, cy - side // 2, cx - side // 2 + side, cy - side // 2 + side)
        white = Image.new("RGBA", canvas.size, (255, 255, 255, 255))
        rgb = Image.alpha_composite(white, canvas).convert("RGB").crop(square)
        images.append(np.asarray(rgb.resize((size, size), Image.BOX)))
    return np.stack(images)


def load_image_folder(folder: str | Path, size: int = 16) -> np.ndarray:
    """Every image in ``folder`` (recursively), as uint8 (N, size, size, 3) RGB (transparency on white)."""
    from PIL import Image, UnidentifiedImageError

    folder = Path(folder)
    if not folder.is_dir():
        raise DataNotFoundError(f"image folder not found: {folder}")
    images = []
    for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES):
        try:
            with open_image(path) as opened:
                image = opened.convert("RGBA")
        except Image.DecompressionBombError as err:  # not a broken file to pass over: say so
            raise ValueError(f"{path}: image too large: {' '.join(str(err).split())}") from None
        except (OSError, UnidentifiedImageError, ValueError, SyntaxError):
            continue
        white = Image.new("RGBA", image.size, (255, 255, 255, 255))
        images.append(np.asarray(Image.alpha_composite(white, image).convert("RGB").resize((size, size), Image.BOX)))
    if not images:
        raise DataNotFoundError(f"no readable images ({', '.join(IMAGE_SUFFIXES)}) in {folder}")
    return np.stack(images)


def load_colour_images(source: str = "emoji", split: str = "train", size: int = 16, data_dir: str | Path | None = None) -> np.ndarray:
    """A split of colour images, uint8 (N, size, size, 3): 'emoji' (cached after the first call) or a folder.

    Every tenth image (in a fixed order) is the test split.

    Raises:
        ValueError: an unknown split, or a ``size`` outside 4..MAX_COLOUR_SIZE (one line).
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid: {', '.join(SPLITS)}")
    size = check_number(size, "size", low=4, high=MAX_COLOUR_SIZE, integer=True)
    if source == "emoji":
        cache = _cache_path(f"emoji-{size}.npz", data_dir)
        images, fault = _read_colour_cache(cache, size) if cache is not None else (None, None)
        if images is None:
            images = _rebuilt(cache, fault, lambda: render_emoji(size))
            if cache is not None:
                atomic_write(cache, lambda tmp: _save_arrays(tmp, images=images))
    else:
        images = load_image_folder(source, size)
    test = np.arange(len(images)) % 10 == 5
    return images[test] if split == "test" else images[~test]


def _cache_path(name: str, data_dir: str | Path | None) -> Path | None:
    """``<data dir>/emoji/<name>``: in the folder named (``data_dir``, else ``$PPGN_DATA``), else in the
    default cache, unless ``PPGN_SYSTEM_DATA=0`` (a system location: then None, nothing is read or written)."""
    from .mnist import DEFAULT_DATA_DIR

    chosen = named_data_dir(data_dir, "emoji/ (the emoji cache, font and emoji-test.txt)")
    if chosen is None and not system_data_enabled():
        return None
    return Path(chosen or DEFAULT_DATA_DIR) / "emoji" / name


def _read_colour_cache(cache: Path, size: int) -> tuple[np.ndarray | None, str | None]:
    """(the images of a colour-emoji cache, None), or (None, why it is damaged), or (None, None) if there is none."""
    if not cache.is_file():
        return None, None
    try:
        with np.load(cache, allow_pickle=False) as f:
            images = f["images"]
    except Exception as err:  # zip, format or key errors: all mean "not a readable cache"
        return None, f"not a readable .npz: {type(err).__name__}"
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != (size, size, 3) or not len(images):
        return None, f"images {images.dtype} {images.shape}, expected uint8 (N, {size}, {size}, 3)"
    return images, None


def _rebuilt(cache: Path | None, fault: str | None, build):
    """``build()``: a cache's contents made anew; if that fails where a damaged cache (``fault``) lay, one line says both."""
    try:
        return build()
    except DataNotFoundError as err:
        if fault is None:
            raise
        raise DataNotFoundError(f"{cache} is damaged ({fault}) and cannot be rendered again here: {err}; "
                                f"delete it, or replace it with a good copy") from None


def _save_arrays(path: str, **arrays: np.ndarray) -> None:
    with open(path, "wb") as f:  # a file object: np.savez would add ".npz" to a temporary file's name
        np.savez_compressed(f, **arrays)


# The labelled emoji set: emoji-test.txt → (sequence, group) → a rendered 64×64 image and a class.


@dataclass(frozen=True)
class EmojiEntry:
    """One line of ``emoji-test.txt``: ``1F44B 1F3FB ; fully-qualified # 👋🏻 E1.0 waving hand: light skin tone``."""

    codepoints: tuple[int, ...]
    status: str  # component, fully-qualified, minimally-qualified or unqualified
    group: str
    subgroup: str
    name: str

    @property
    def text(self) -> str:
        return "".join(map(chr, self.codepoints))


_LINE = re.compile(r"^([0-9A-Fa-f ]+);\s*([a-z-]+)\s*#.*?\sE\d+\.\d+\s+(.*)$")


def parse_emoji_test(path: str | Path) -> list[EmojiEntry]:
    """Every emoji line of a Unicode ``emoji-test.txt``, in file order, with its group and subgroup.

    Raises:
        ValueError: a line that is neither a comment nor an emoji line, naming the file and line.
    """
    path = Path(path)
    entries, group, subgroup = [], "", ""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if line.startswith("# group:"):
            group, subgroup = line.split(":", 1)[1].strip(), ""
        elif line.startswith("# subgroup:"):
            subgroup = line.split(":", 1)[1].strip()
        elif line and not line.startswith("#"):
            match = _LINE.match(line)
            if match is None:
                raise ValueError(f"{path}:{number}: not an emoji-test.txt line: {line[:60]!r}")
            codes, status, name = match.groups()
            entries.append(EmojiEntry(tuple(int(c, 16) for c in codes.split()), status, group, subgroup, name.strip()))
    return entries


def select_emoji(entries: list[EmojiEntry]) -> tuple[list[EmojiEntry], np.ndarray]:
    """The emoji of the dataset and their classes (indices into ``EMOJI_CLASSES``): fully-qualified,
    without skin-tone modifiers, group Component dropped, Activities and Objects merged (see the module's notes).

    Raises:
        ValueError: a group this mapping does not know (a newer emoji-test.txt), naming the known ones.
    """
    chosen, labels = [], []
    for e in entries:
        if e.status != "fully-qualified" or e.group in DROPPED_GROUPS or any(c in SKIN_TONES for c in e.codepoints):
            continue
        if e.group not in GROUP_CLASS:
            raise ValueError(f"unknown emoji group {e.group!r} ({e.name}); known: {', '.join([*GROUP_CLASS, *DROPPED_GROUPS])}")
        chosen.append(e)
        labels.append(GROUP_CLASS[e.group])
    return chosen, np.array(labels, dtype=np.int64)


def render_sequence(font, text: str, size: int) -> np.ndarray | None:
    """One emoji (any code-point sequence) as uint8 (size, size, 3) RGB on white, cut to the square around
    its ink; None if the font draws nothing or more than one glyph (a sequence it does not know)."""
    from PIL import Image, ImageDraw

    left, top, right, bottom = font.getbbox(text)
    if right - left > 1.5 * 109:  # several glyphs side by side: the font (or the layout) has no glyph for it
        return None
    canvas = Image.new("RGBA", (224, 224), (255, 255, 255, 0))
    origin = (112 - (left + right) // 2, 112 - (top + bottom) // 2)
    ImageDraw.Draw(canvas).text(origin, text, font=font, embedded_color=True)
    box = canvas.getbbox()
    if box is None:
        return None
    side = max(box[2] - box[0], box[3] - box[1])
    x0, y0 = (box[0] + box[2] - side) // 2, (box[1] + box[3] - side) // 2
    white = Image.alpha_composite(Image.new("RGBA", canvas.size, (255, 255, 255, 255)), canvas).convert("RGB")
    return np.asarray(white.crop((x0, y0, x0 + side, y0 + side)).resize((size, size), Image.LANCZOS))


def _source(name: str, system_path: Path, package: str, data_dir: str | Path | None) -> Path:
    """``<data dir>/emoji/<name>`` if there, else Debian's ``system_path`` (unless ``PPGN_SYSTEM_DATA=0``)."""
    chosen = named_data_dir(data_dir, "emoji/ (the emoji cache, font and emoji-test.txt)")
    candidates = [chosen / "emoji" / name] if chosen else []
    if system_data_enabled():
        candidates.append(system_path)
    for path in candidates:
        if path.is_file():
            return path
    looked = ", ".join(map(str, candidates)) or "nowhere: no --data-dir or $PPGN_DATA given"
    raise DataNotFoundError(f"{name} not found (looked in {looked}{skipped_note()}); install it with "
                            f"'sudo apt-get install {package}' or copy it to <data dir>/emoji/{name}")


def build_emoji_groups(size: int = EMOJI_SIZE, font_path: str | Path | None = None,
                       emoji_test: str | Path | None = None, data_dir: str | Path | None = None) -> dict[str, np.ndarray]:
    """Render the labelled emoji set: ``images`` uint8 (N, size, size, 3), ``labels`` int64 (N,), ``prob`` (ones),
    ``classes``, ``names``, ``sequences`` (code points, "1F44B 200D ...") and ``source`` (what it was made from)."""
    from PIL import ImageFont, features

    font_path = Path(font_path) if font_path else _source(EMOJI_FONT.name, EMOJI_FONT, "fonts-noto-color-emoji", data_dir)
    emoji_test = Path(emoji_test) if emoji_test else _source(EMOJI_TEST.name, EMOJI_TEST, "unicode-data", data_dir)
    chosen, labels = select_emoji(parse_emoji_test(emoji_test))
    engine = ImageFont.Layout.RAQM if features.check("raqm") else ImageFont.Layout.BASIC  # RAQM joins sequences
    font = ImageFont.truetype(str(font_path), 109, layout_engine=engine)
    images, keep = [], []
    for i, entry in enumerate(chosen):
        image = render_sequence(font, entry.text, size)
        if image is not None:
            images.append(image)
            keep.append(i)
    if not images:
        raise ValueError(f"{font_path} drew none of the emoji of {emoji_test}; is it a colour emoji font?")
    version = re.search(r"^# Version: (\S+)", emoji_test.read_text(encoding="utf-8"), re.M)
    font_sha = hashlib.sha256(font_path.read_bytes()).hexdigest()[:12]
    return {
        "images": np.stack(images), "labels": labels[keep], "prob": np.ones(len(keep), np.float32),
        "classes": np.array(EMOJI_CLASSES), "names": np.array([chosen[i].name for i in keep]),
        "sequences": np.array([" ".join(f"{c:04X}" for c in chosen[i].codepoints) for i in keep]),
        "source": np.array(f"{font_path.name} sha256 {font_sha}, emoji-test.txt {version.group(1) if version else '?'}, "
                           f"{len(chosen) - len(keep)} not drawn"),
    }  # fmt: skip


def load_emoji_groups(size: int = EMOJI_SIZE, data_dir: str | Path | None = None) -> dict[str, np.ndarray]:
    """The labelled emoji set from its cache ``<data dir>/emoji/emoji-groups-v1-<size>.npz``, rendered and cached on first use."""
    cache = _cache_path(f"emoji-groups-v{GROUPS_VERSION}-{size}.npz", data_dir)
    fault = None
    if cache is not None and cache.is_file():
        try:
            data = load_npz(cache, num_classes=len(EMOJI_CLASSES))
            if data["images"].shape[1:] == (size, size, 3) and len(data["images"]):
                return data
            fault = f"images {data['images'].shape}, expected (N, {size}, {size}, 3)"
        except ValueError as err:  # a damaged cache: render the set again, over it
            fault = str(err).removeprefix(f"{cache}: ")
    data = _rebuilt(cache, fault, lambda: build_emoji_groups(size, data_dir=data_dir))
    if cache is not None:
        try:
            save_npz(cache, **data)
        except OSError as err:
            warnings.warn(f"emoji set not cached at {cache}: {err}", stacklevel=2)
    return data


def emoji_dataset(split: str = "train", size: int | None = None, channels: int | None = None,
                  data_dir: str | Path | None = None) -> ArrayDataset:
    """A split of the labelled emoji set (8 classes, ``EMOJI_CLASSES``), rendered at ``size`` (default 64), RGB
    unless ``channels=1``; its ``augment`` is ``augment_emoji``."""
    check_split(split)
    size = check_size(size) or EMOJI_SIZE
    data = load_emoji_groups(size, data_dir)
    keep = split_indices(data["labels"], split)
    images, labels = data["images"][keep], data["labels"][keep]
    classes = tuple(str(c) for c in data.get("classes", EMOJI_CLASSES))
    summary = (f"emoji: {split} split, {len(keep)} of {len(data['labels'])} emoji (every 10th of each class is test), "
               f"{len(classes)} classes, {size}×{size}, from {data.get('source', 'a cache')}")
    return ArrayDataset(images, labels, classes, "emoji", Fingerprint(sha256_arrays(images, labels), summary),
                        size, check_channels(channels), augment=augment_emoji, background=1.0)


def augment_emoji(x: torch.Tensor, generator: torch.Generator | None = None, shift: float = 1 / 16, scale: float = 0.1,
                  u: torch.Tensor | None = None) -> torch.Tensor:
    """Small random shifts and scales of a batch, one per image, filling with white (see the module's notes).

    Args:
        x: float (B, C, H, W) in [-1, 1], white = 1.
        generator: draws the shifts and scales (3 numbers an image), on its own device.
        shift: the largest shift, a fraction of the side (1/16: ±4 px at 64).
        scale: the largest relative change of size (0.1: 90% to 110%).
        u: the draws themselves, uniform (B, 3) (``augment_emoji.draws`` an image), instead of
            ``generator``: the training loop draws them for a whole batch and gives each process its rows.

    Returns:
        float (B, C, H, W), bilinearly resampled.
    """
    import torch.nn.functional as F

    if u is None:
        u = torch.rand(x.shape[0], augment_emoji.draws, generator=generator, device=generator.device)
    u = u.to(x.device, torch.float32)
    zoom = 1 + scale * (2 * u[:, 0] - 1)
    theta = torch.zeros(x.shape[0], 2, 3, device=x.device)
    theta[:, 0, 0] = theta[:, 1, 1] = 1 / zoom  # output pixel p samples the input at p / zoom + t
    theta[:, :, 2] = 2 * shift * (2 * u[:, 1:] - 1)  # the image spans 2 units of the grid
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x - 1, grid, mode="bilinear", padding_mode="zeros", align_corners=False) + 1  # outside: white


augment_emoji.draws = 3  # uniform numbers an image: zoom, shift x, shift y
