"""Hermetic tests: no system dataset, no user cache; the data they need is in tests/fixtures/ (see its README).

The environment is set here, at import, so that pytest-xdist's workers and every command the
tests run inherit it: the data finders skip system locations (PPGN_SYSTEM_DATA=0) and ignore
a $PPGN_DATA the caller may have set. A test that needs a dataset names a fixture folder
(``fashion_mnist_dir``, ``mnist_dir``) with ``--data-dir`` or the loader's ``data_dir``.
"""

import os
from pathlib import Path

import pytest
import torch

os.environ["PPGN_SYSTEM_DATA"] = "0"
os.environ.pop("PPGN_DATA", None)
# Two threads at most, and one per core: xdist's workers (-n 2) share the cores, and two threads
# each on two busy cores made some tests many times slower. A test that needs more sets its own.
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
torch.set_num_threads(max(1, min(2, torch.get_num_threads(), (os.cpu_count() or 1) // _WORKERS)))

FIXTURES = Path(__file__).resolve().parent / "fixtures"
FASHION_MNIST = FIXTURES / "fashion-mnist"  # 50 train + 20 test images per class (MIT, Zalando)
MNIST = FIXTURES / "mnist"  # 50 train + 20 test images per class (CC BY-SA 3.0, LeCun & Cortes)


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(0)


@pytest.fixture(scope="session")
def fashion_mnist_dir() -> Path:
    """The Fashion-MNIST fixture folder (500 train, 200 test images, balanced)."""
    return FASHION_MNIST


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The MNIST fixture folder (500 train, 200 test images, balanced)."""
    return MNIST


@pytest.fixture
def float64():
    """The default dtype float64 for one test (maths checked without float32 rounding); float32 again after."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)
