"""Sampling in blocks, each with its own seed: a request of any size streams to one file, and the
file is the same whatever the number of torchrun ranks that made it."""

from __future__ import annotations

import os
import socket

import numpy as np
import pytest
import torch.multiprocessing as mp

import ppgn
import ppgn.pipelines.request as request_module
from ppgn.io import load_npz
from ppgn.pipelines.request import SampleRequest, block_seed, run, run_to_file, sample_block

MODEL = "fashion-mnist-cinn"  # one inverse pass per block: fast
REQUEST = SampleRequest(class_="all", num=1, seed=5, temperature=0.8)  # 10 samples, one of each class


@pytest.fixture
def small_blocks(monkeypatch):
    monkeypatch.setattr(request_module, "BLOCK", 4)  # 10 samples → blocks of 4, 4 and 2


def test_a_request_of_one_block_is_one_pipeline_call():
    pipe = ppgn.load(MODEL, device="cpu")
    out = run(pipe, SampleRequest(class_=3, num=5, seed=7, temperature=0.8))
    assert np.array_equal(out.array, pipe.sample(3, num=5, seed=7, temperature=0.8).array)
    assert block_seed(7, 0) == 7 and len({block_seed(7, b) for b in range(1, 50)}) == 49


def test_blocks_have_their_own_seeds(small_blocks):
    pipe = ppgn.load(MODEL, device="cpu")
    whole = run(pipe, REQUEST)
    assert whole.labels.tolist() == list(range(10))
    parts = [sample_block(pipe, REQUEST, b) for b in range(3)]
    assert [len(p.labels) for p in parts] == [4, 4, 2]
    assert np.array_equal(whole.array, np.concatenate([p.array for p in parts]))
    again = pipe.sample([4, 5, 6, 7], num=4, seed=block_seed(5, 1), temperature=0.8)
    assert np.array_equal(parts[1].array, again.array)  # block 1 is a call with block 1's seed


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank(rank: int, size: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(size), LOCAL_RANK=str(rank))
    request_module.BLOCK = 4
    run_to_file(ppgn.load(MODEL, device="cpu"), REQUEST, out)


def test_the_file_does_not_depend_on_the_number_of_ranks(small_blocks, tmp_path):
    one = tmp_path / "one.npz"
    first = run_to_file(ppgn.load(MODEL, device="cpu"), REQUEST, one)
    assert first.labels.tolist() == [0, 1, 2, 3]  # rank 0 hands back its first block, for a grid
    two = tmp_path / "two.npz"
    mp.spawn(_rank, args=(2, _free_port(), str(two)), nprocs=2, join=True)
    a, b = load_npz(one, mmap=True), load_npz(two, mmap=True)
    for key in ("images", "labels", "prob"):
        assert np.array_equal(np.asarray(a[key]), np.asarray(b[key])), key
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.npz", "two.npz"]  # the shards are gone
    assert np.array_equal(np.asarray(a["images"]), run(ppgn.load(MODEL, device="cpu"), REQUEST).array)


def test_the_command_line_streams_a_large_request_to_one_file(small_blocks, tmp_path):
    from cli_helpers import run as ppgn_cli

    out, grid = tmp_path / "s.npz", tmp_path / "s.png"
    result = ppgn_cli("sample", "--model", MODEL, "--class", "all", "--num", 1, "--seed", 5, "--temperature", 0.8,
                      "--out", out, "--grid", grid, "-q")
    assert result.exit_code == 0, result.output
    data = load_npz(out, num_classes=10, mmap=True)
    assert np.array_equal(np.asarray(data["images"]), run(ppgn.load(MODEL, device="cpu"), REQUEST).array)
    assert grid.is_file() and ppgn_cli("eval", out, "--model", MODEL).exit_code == 0  # eval reads it memory-mapped
