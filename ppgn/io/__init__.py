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
from .files import (
    NPZ_KEYS,
    NpzWriter,
    all_or_none,
    atomic_write,
    load_npz,
    make_grid,
    read_image,
    save_gif,
    save_image,
    save_npz,
    write_bytes,
    write_json,
    write_text,
)

__all__ = [
    "InputError", "check_choice", "check_count", "check_number", "check_output", "check_output_dir", "check_seed",
    "read_json_file", "NPZ_KEYS", "NpzWriter", "all_or_none", "atomic_write", "load_npz", "make_grid", "read_image",
    "save_gif", "save_image", "save_npz", "write_bytes", "write_json", "write_text",
]  # fmt: skip
