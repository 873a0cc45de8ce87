"""Tests for the labelled emoji set (ppgn.data.emoji): the emoji-test.txt parser and class mapping on a committed
excerpt (tests/fixtures/emoji-test-excerpt.txt), the cache, the dataset, the augmentation; rendering only where
Debian's Noto colour-emoji font is installed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import ppgn.data.emoji as emoji
from ppgn.data import DataNotFoundError, dataset_classes, open_dataset
from ppgn.data.emoji import EMOJI_CLASSES, GROUP_CLASS, augment_emoji, parse_emoji_test, select_emoji
from ppgn.io import save_npz

EXCERPT = Path(__file__).resolve().parent / "fixtures" / "emoji-test-excerpt.txt"
# fully-qualified, no skin tone, no Component, per class of EMOJI_CLASSES:
EXCERPT_COUNTS = [6, 4, 2, 2, 2, 4, 3, 6]
needs_font = pytest.mark.skipif(not emoji.EMOJI_FONT.is_file(), reason="fonts-noto-color-emoji is not installed")


def test_parse_the_excerpt():
    entries = parse_emoji_test(EXCERPT)
    assert len(entries) == 39
    first = entries[0]
    assert (first.codepoints, first.status, first.group, first.subgroup, first.name) == (
        (0x1F600,), "fully-qualified", "Smileys & Emotion", "face-smiling", "grinning face")
    by_name = {(e.name, e.status): e for e in entries}
    family = by_name["family: man, woman, boy", "fully-qualified"]
    assert family.codepoints == (0x1F468, 0x200D, 0x1F469, 0x200D, 0x1F466) and family.text == "👨‍👩‍👦"
    assert family.group == "People & Body" and family.subgroup == "family"
    assert by_name["keycap: #", "fully-qualified"].codepoints == (0x23, 0xFE0F, 0x20E3)
    assert by_name["keycap: #", "unqualified"].codepoints == (0x23, 0x20E3)
    assert by_name["flag: England", "fully-qualified"].codepoints[0] == 0x1F3F4
    assert by_name["waving hand: light skin tone", "fully-qualified"].codepoints == (0x1F44B, 0x1F3FB)
    assert by_name["face in clouds", "minimally-qualified"].group == "Smileys & Emotion"
    assert {e.status for e in entries} == {"fully-qualified", "unqualified", "minimally-qualified", "component"}
    assert [g for g in dict.fromkeys(e.group for e in entries)] == [
        "Smileys & Emotion", "People & Body", "Component", "Animals & Nature", "Food & Drink",
        "Travel & Places", "Activities", "Objects", "Symbols", "Flags"]  # fmt: skip


def test_the_class_mapping():
    chosen, labels = select_emoji(parse_emoji_test(EXCERPT))
    assert labels.dtype == np.int64 and np.bincount(labels, minlength=8).tolist() == EXCERPT_COUNTS
    assert all(e.status == "fully-qualified" and e.group != "Component" for e in chosen)
    assert not any(0x1F3FB <= c <= 0x1F3FF for e in chosen for c in e.codepoints)  # no skin-tone variants
    names = {e.name: int(label) for e, label in zip(chosen, labels)}
    assert names["woman: red hair"] == 1 and names["family: man, woman, boy"] == 1  # hair and family stay
    assert names["jack-o-lantern"] == names["glasses"] == EMOJI_CLASSES.index("Activities/Objects")
    assert names["keycap: #"] == 6 and names["flag: England"] == names["chequered flag"] == 7
    assert set(GROUP_CLASS.values()) == set(range(len(EMOJI_CLASSES))) and dataset_classes("emoji") == EMOJI_CLASSES


def test_unknown_groups_and_bad_lines_are_refused(tmp_path):
    (tmp_path / "new.txt").write_text("# group: Aliens\n1F47D ; fully-qualified # 👽 E0.6 alien\n", encoding="utf-8")
    with pytest.raises(ValueError) as err:
        select_emoji(parse_emoji_test(tmp_path / "new.txt"))
    msg = str(err.value)
    assert "'Aliens'" in msg and "Flags" in msg and "\n" not in msg
    (tmp_path / "bad.txt").write_text("# group: Flags\n\n1F3C1 fully-qualified chequered flag\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.txt:3: not an emoji-test\.txt line"):
        parse_emoji_test(tmp_path / "bad.txt")


def _fake_cache(data_dir: Path, size: int = 64, per_class: int = 12) -> dict:
    labels = np.repeat(np.arange(8), per_class).astype(np.int64)
    images = np.random.default_rng(0).integers(0, 256, size=(len(labels), size, size, 3), dtype=np.uint8)
    data = dict(images=images, labels=labels, prob=np.ones(len(labels), np.float32), classes=np.array(EMOJI_CLASSES),
                source=np.array("a test cache"))
    save_npz(data_dir / "emoji" / f"emoji-groups-v{emoji.GROUPS_VERSION}-{size}.npz", **data)
    return data


def test_open_dataset_emoji_reads_the_cache(tmp_path):
    data = _fake_cache(tmp_path)
    train, test = open_dataset("emoji", "train", data_dir=tmp_path), open_dataset("emoji", "test", data_dir=tmp_path)
    assert train.classes == test.classes == EMOJI_CLASSES and train.image_shape == (3, 64, 64)
    assert len(train) == 88 and len(test) == 8 and np.bincount(test.labels).tolist() == [1] * 8
    assert train.augment is augment_emoji and test.fingerprint.sha256 != train.fingerprint.sha256
    assert "a test cache" in train.fingerprint.summary
    x, y = test[0]
    assert torch.equal(x, torch.from_numpy(data["images"][9]).permute(2, 0, 1).float() / 127.5 - 1) and y.item() == 0
    assert open_dataset("emoji", "test", channels=1, data_dir=tmp_path)[0][0].shape == (1, 64, 64)


def test_no_font_no_cache_is_a_one_line_error(tmp_path, monkeypatch):
    _fake_cache(tmp_path)
    monkeypatch.setenv("PPGN_SYSTEM_DATA", "0")
    with pytest.raises(DataNotFoundError) as err:
        open_dataset("emoji", size=32, data_dir=tmp_path)  # no cache at 32: it would be rendered, from no font
    msg = str(err.value)
    assert "NotoColorEmoji.ttf" in msg and "PPGN_SYSTEM_DATA=0" in msg and "fonts-noto-color-emoji" in msg and "\n" not in msg
    monkeypatch.setattr("ppgn.data.mnist.DEFAULT_DATA_DIR", tmp_path)
    monkeypatch.delenv("PPGN_DATA", raising=False)
    with pytest.raises(DataNotFoundError, match="PPGN_SYSTEM_DATA=0"):
        open_dataset("emoji")  # the default cache is a system location: not read


def test_augment_is_seeded_small_and_fills_with_white():
    x = torch.rand(6, 3, 64, 64, generator=torch.Generator().manual_seed(1)) * 2 - 1
    a = augment_emoji(x, torch.Generator().manual_seed(0))
    b = augment_emoji(x, torch.Generator().manual_seed(0))
    c = augment_emoji(x, torch.Generator().manual_seed(5))
    assert a.shape == x.shape and torch.equal(a, b) and not torch.equal(a, c)
    assert a.min() >= -1 - 1e-5 and a.max() <= 1 + 1e-5
    white = torch.ones(4, 3, 32, 32)
    assert torch.allclose(augment_emoji(white, torch.Generator().manual_seed(0)), white)
    assert torch.allclose(augment_emoji(x, torch.Generator().manual_seed(0), shift=0, scale=0), x, atol=1e-5)
    dot = torch.ones(1, 1, 64, 64)
    dot[..., 28:36, 28:36] = -1  # a black square on white: it moves by at most 4 px and grows by at most 10%
    moved = augment_emoji(dot, torch.Generator().manual_seed(3))
    ys, xs = torch.nonzero(moved[0, 0] < 0, as_tuple=True)
    assert 24 <= ys.min() and ys.max() <= 39 and 24 <= xs.min() and xs.max() <= 39


@needs_font
def test_render_the_excerpt_with_the_font(tmp_path):
    from PIL import features

    data = emoji.build_emoji_groups(64, font_path=emoji.EMOJI_FONT, emoji_test=EXCERPT)
    n = sum(EXCERPT_COUNTS)
    if features.check("raqm"):  # the text layout that joins sequences into one glyph
        assert len(data["images"]) == n and np.bincount(data["labels"]).tolist() == EXCERPT_COUNTS
    assert data["images"].shape[1:] == (64, 64, 3) and data["images"].dtype == np.uint8
    assert (data["images"][:, 0, 0] == 255).all(axis=-1).mean() > 0.5  # on white
    assert all(img.std() > 20 for img in data["images"])  # something drawn
    assert data["sequences"][0] == "1F600" and "emoji-test.txt 15.0" in str(data["source"])


@needs_font
def test_the_set_is_rendered_once_and_cached(tmp_path, monkeypatch):
    (tmp_path / "emoji").mkdir()
    (tmp_path / "emoji" / "NotoColorEmoji.ttf").symlink_to(emoji.EMOJI_FONT)
    (tmp_path / "emoji" / "emoji-test.txt").symlink_to(EXCERPT)
    first = open_dataset("emoji", "test", size=32, data_dir=tmp_path)  # PPGN_SYSTEM_DATA=0: found in the data dir
    assert (tmp_path / "emoji" / f"emoji-groups-v{emoji.GROUPS_VERSION}-32.npz").is_file() and first.image_shape == (3, 32, 32)
    assert not list((tmp_path / "emoji").glob(".*.tmp"))  # written atomically, nothing left behind
    monkeypatch.setattr(emoji, "build_emoji_groups", lambda *a, **k: pytest.fail("rendered again"))
    again = open_dataset("emoji", "test", size=32, data_dir=tmp_path)
    assert again.fingerprint == first.fingerprint and np.array_equal(again.arrays()[0], first.arrays()[0])
