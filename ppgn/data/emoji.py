"""Colour images available offline: the colour emoji of Debian's ``fonts-noto-color-emoji``, or any image folder.

    sudo apt-get install fonts-noto-color-emoji

NotoColorEmoji is a bitmap (CBDT) font: Pillow loads it only at size 109, so every glyph is
rendered at that size, composited on white, cropped to a square around its ink and downscaled
(box filter) to ``size``×``size`` RGB. Every tenth glyph in codepoint order is held out as the
test split. The rendering is cached once as ``<data dir>/emoji/emoji-<size>.npz``.

With ``PPGN_SYSTEM_DATA=0`` the system locations are skipped: the font's default path and the
default cache ``~/.cache/ppgn`` (a cache in ``--data-dir`` or ``$PPGN_DATA`` still counts).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .datasets import DataNotFoundError, skipped_note, system_data_enabled

EMOJI_FONT = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
SPLITS = ("train", "test")


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
            image = Image.open(path).convert("RGBA")
        except (OSError, UnidentifiedImageError):
            continue
        white = Image.new("RGBA", image.size, (255, 255, 255, 255))
        images.append(np.asarray(Image.alpha_composite(white, image).convert("RGB").resize((size, size), Image.BOX)))
    if not images:
        raise DataNotFoundError(f"no readable images ({', '.join(IMAGE_SUFFIXES)}) in {folder}")
    return np.stack(images)


def load_colour_images(source: str = "emoji", split: str = "train", size: int = 16, data_dir: str | Path | None = None) -> np.ndarray:
    """A split of colour images, uint8 (N, size, size, 3): 'emoji' (cached after the first call) or a folder.

    Every tenth image (in a fixed order) is the test split.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid: {', '.join(SPLITS)}")
    if source == "emoji":
        from .mnist import DEFAULT_DATA_DIR

        chosen = data_dir or os.environ.get("PPGN_DATA")
        cache = Path(chosen or DEFAULT_DATA_DIR) / "emoji" / f"emoji-{size}.npz"
        if cache.is_file() and (chosen or system_data_enabled()):  # the default cache is a system location
            images = np.load(cache)["images"]
        else:
            images = render_emoji(size)
            cache.parent.mkdir(parents=True, exist_ok=True)
            np.savez_compressed(cache, images=images)
    else:
        images = load_image_folder(source, size)
    test = np.arange(len(images)) % 10 == 5
    return images[test] if split == "test" else images[~test]
