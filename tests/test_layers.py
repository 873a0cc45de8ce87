"""The layout is the architecture: the layer rules of pyproject.toml hold, and the light parts stay light."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_import_contracts_hold():
    """cli > serve > evaluation > pipelines | training > sampling | models > data > io, no cycles, a sampler without data."""
    result = subprocess.run(
        [sys.executable, "-c", "import sys, importlinter.cli as c; sys.exit(c.lint_imports(no_cache=True, no_logo=True))"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "3 kept, 0 broken" in result.stdout


def imported_by(statement: str) -> set[str]:
    """The modules a fresh interpreter holds after ``statement``."""
    code = f"import sys; {statement}; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True)
    return set(out.stdout.split())


def test_importing_the_sampler_loads_neither_freia_nor_a_dataset_module():
    modules = imported_by("import ppgn.sampling")
    assert "FrEIA" not in modules
    assert not {m for m in modules if m.startswith(("ppgn.data", "ppgn.models", "ppgn.pipelines"))}


def test_importing_the_package_and_its_command_line_loads_no_torch():
    """`ppgn --help` and argument errors answer without loading torch or a network."""
    assert "torch" not in imported_by("import ppgn")
    assert "torch" not in imported_by("import ppgn.cli")


def test_the_command_lines_copy_of_the_preset_names_is_the_samplers():
    from ppgn.cli.options import PRESET_NAMES
    from ppgn.sampling import PRESETS

    assert PRESET_NAMES == tuple(PRESETS)


def test_the_command_lines_copies_of_the_chain_choices_are_the_librarys():
    from ppgn.cli.options import CALIBRATION_NAMES, FORM_NAMES, INIT_NAMES, MAX_EPS, MAX_STEPS
    from ppgn.pipelines.conditions import CALIBRATIONS
    from ppgn.pipelines.ppgn import INITS
    from ppgn.pipelines.request import MAX_STEPS as LIBRARY_MAX_STEPS
    from ppgn.sampling import ClassCondition
    from ppgn.sampling.sampler import MAX_EPS as LIBRARY_MAX_EPS

    assert (INIT_NAMES, FORM_NAMES, CALIBRATION_NAMES) == (INITS, ClassCondition.FORMS, CALIBRATIONS)
    assert (MAX_EPS, MAX_STEPS) == (LIBRARY_MAX_EPS, LIBRARY_MAX_STEPS)
