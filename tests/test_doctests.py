"""Every ``>>>`` example in the package runs and prints what its docstring says.

One test per module of ``ppgn`` (found by ``pkgutil.walk_packages``), so ``python -m pytest`` runs
the examples without ``--doctest-modules`` in the pytest configuration.
"""

from __future__ import annotations

import doctest
import importlib
import io
import pkgutil

import pytest
import torch

import ppgn

SKIP = {"ppgn.__main__"}  # importing it runs the command line
MODULES = sorted(m.name for m in pkgutil.walk_packages(ppgn.__path__, "ppgn.") if m.name not in SKIP)
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def test_the_walk_finds_the_modules_with_examples():
    assert {"ppgn.pipelines.colorize", "ppgn.pipelines.cinn", "ppgn.data.captions", "ppgn.sampling.priors"} <= set(MODULES)


@pytest.mark.parametrize("name", ["ppgn", *MODULES])
def test_examples(name):
    module = importlib.import_module(name)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the examples draw a few samples: one thread is faster, and xdist's workers share the cores
    try:
        tests = doctest.DocTestFinder(exclude_empty=True).find(module, name)
        report = io.StringIO()
        runner = doctest.DocTestRunner(optionflags=FLAGS)
        for test in tests:
            runner.run(test, out=report.write)
    finally:
        torch.set_num_threads(threads)
    assert runner.failures == 0, f"{name}: {runner.failures} of {runner.tries} examples failed\n{report.getvalue()}"
