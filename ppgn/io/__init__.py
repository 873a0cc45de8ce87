"""The edge of the library: files in and out, and the checks every value from outside passes.

* ``files``: atomic writes (all-or-none for several outputs), JSON, the ``.npz`` sample
  contract, image grids (PNG), chain animations (GIF), and the one image reader.
* ``checks``: numbers, counts, seeds, names and output paths from a user, each refused in one
  line that names the argument and what is valid (``InputError``), before any work.

Nothing here knows about networks.
"""

from .checks import (
    InputError,
    check_choice,
    check_count,
    check_number,
    check_output,
    check_output_dir,
    check_seed,
    read_json_file,
)
_FILES = (
    "NPZ_KEYS", "NpzWriter", "all_or_none", "atomic_write", "load_npz", "make_grid", "read_image", "save_gif",
    "save_image", "save_npz", "write_bytes", "write_json", "write_text",
)  # fmt: skip


def __getattr__(name: str):
    """``files`` loads on first use (it imports NumPy and Pillow): the checks alone stay light, so the
    command line refuses a bad argument before anything heavy is imported."""
    if name in _FILES:
        from . import files

        return getattr(files, name)
    raise AttributeError(f"module 'ppgn.io' has no attribute {name!r}")

__all__ = [
    "InputError", "check_choice", "check_count", "check_number", "check_output", "check_output_dir", "check_seed",
    "read_json_file", "NPZ_KEYS", "NpzWriter", "all_or_none", "atomic_write", "load_npz", "make_grid", "read_image",
    "save_gif", "save_image", "save_npz", "write_bytes", "write_json", "write_text",
]  # fmt: skip
