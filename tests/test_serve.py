"""``ppgn serve`` through its API (Starlette's TestClient): a class sampled live, the events it
streams, the queue's order, the cap, bad fields, the ``.npz`` download, and the command it shows,
run for real to check that it reproduces the download. The page itself: tests/test_browser.py."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import shlex
import warnings
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import invoke
from PIL import Image

pytest.importorskip("starlette", reason="ppgn serve needs starlette (pip install -e '.[serve]')")
pytest.importorskip("httpx", reason="Starlette's TestClient needs httpx")
with warnings.catch_warnings():  # starlette's notice that httpx2 will replace httpx
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from ppgn.io import load_npz
from ppgn.serve import Settings, create_app

pytestmark = pytest.mark.filterwarnings("ignore:.*httpx.*:DeprecationWarning")
FIXTURES = Path(__file__).resolve().parent / "fixtures"
CAP = 2000  # chains × steps: small, so that one test can ask for more


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(Settings(models=("fashion-mnist",), device="cpu", max_work=CAP))) as c:
        yield c


def submit(client, **fields) -> str:
    response = client.post("/api/jobs", json=fields)
    assert response.status_code == 200, response.text
    return response.json()["id"]


def follow(client, job: str) -> list[dict]:
    """Every event of a job, read from its stream until the job ends."""
    with client.stream("GET", f"/api/jobs/{job}/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        return [json.loads(line[6:]) for line in stream.iter_lines() if line.startswith("data: ")]


def picture(url: str) -> np.ndarray:
    head, _, payload = url.partition(",")
    assert head == "data:image/png;base64"
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(payload))))


def refused(client, needle: str, **fields) -> str:
    response = client.post("/api/jobs", json=fields)
    assert response.status_code == 400, response.text
    message = response.json()["error"]
    assert "\n" not in message and "Traceback" not in message and needle in message, message
    return message


def download(client, url: str, path) -> None:
    response = client.get(url)
    assert response.status_code == 200, response.text
    path.write_bytes(response.content)


def reproduce(command: str, folder) -> dict:
    """Run a command the page showed (``ppgn ...``) in ``folder`` and read the .npz it writes."""
    words = shlex.split(command)
    assert words[0] == "ppgn"
    with contextlib.chdir(folder):
        code, _, err = invoke(*words[1:], "-q")
    assert code == 0, err
    return load_npz(folder / "samples.npz")


def test_sampling_a_class_streams_pictures_and_p_per_step_then_the_grid(client):
    events = follow(client, submit(client, task="sample", model="fashion-mnist", **{"class": "sneaker"}, num="3", steps="8", seed="1"))
    kinds = [e["type"] for e in events]
    assert kinds[:2] == ["queued", "started"] and kinds[-1] == "done", kinds
    frames = [e for e in events if e["type"] == "frame"]
    assert len(frames) >= 2 and [f["step"] for f in frames] == sorted(f["step"] for f in frames) and frames[-1]["step"] == 8
    assert picture(frames[0]["image"]).shape[:2] == picture(frames[-1]["image"]).shape[:2]  # 3 chains, one row
    p = [x for f in frames for x in f["p"]]
    assert len(p) == 8 and all(0 <= x <= 1 for x in p)
    done = events[-1]
    assert picture(done["grid"]).ndim >= 2 and done["stopped_at"] is None
    assert set(done["files"]) == {"samples.npz", "grid.png"}


def test_the_npz_download_follows_the_contract_and_the_shown_command_reproduces_it(client, tmp_path):
    done = follow(client, submit(client, task="sample", model="fashion-mnist", **{"class": "bag", "not_class": "sneaker"},
                                 num="2", steps="4", seed="3", eps3="0.2"))[-1]
    assert done["type"] == "done", done
    download(client, done["files"]["samples.npz"], tmp_path / "page.npz")
    page = load_npz(tmp_path / "page.npz", num_classes=10)  # the contract: dtypes, shapes, label range
    assert page["images"].shape == (2, 28, 28, 1) and page["labels"].tolist() == [8, 8]
    [command] = done["commands"]
    assert "--not-class sneaker" in command and "--eps3 0.2" in command and "--seed 3" in command
    cli = reproduce(command, tmp_path)
    for key in ("images", "labels"):
        np.testing.assert_array_equal(cli[key], page[key])
    np.testing.assert_allclose(cli["prob"], page["prob"], rtol=1e-5)


def test_requests_for_one_model_run_one_at_a_time_in_the_order_they_came(client):
    ids = [submit(client, task="sample", model="fashion-mnist", **{"class": k}, num="2", steps="3") for k in ("0", "1", "2")]
    runs = [follow(client, i) for i in ids]
    assert [r[0]["position"] for r in runs[1:]] == [1, 2]  # how many were ahead when it came
    for before, after in zip(runs, runs[1:]):
        started = next(e["t"] for e in after if e["type"] == "started")
        assert before[-1]["type"] == "done" and before[-1]["t"] <= started


def test_a_request_above_the_cap_is_refused_with_the_cap_named(client):
    message = refused(client, "--max-work", task="sample", model="fashion-mnist", **{"class": "bag"}, num="20", steps="200")
    assert f"{20 * 200}" in message and f"{CAP}" in message


@pytest.mark.parametrize("fields, needle", [
    ({"class": "nosuch"}, "nosuch"),
    ({"class": "bag", "num": "abc"}, "--num"),
    ({"class": "bag", "num": "0"}, "--num"),
    ({"class": "bag", "num": "2.5"}, "--num"),
    ({"class": "bag", "seed": "-1"}, "--seed"),
    ({"class": "bag", "eps1": "nan"}, "--eps1"),
    ({"class": "bag", "steps": "1e30"}, "--steps"),
    ({"class": "bag", "preset": "nosuch"}, "preset"),
    ({"class": "bag", "not_class": "bag"}, "--not-class"),
    ({"class": "bag", "module": "os:getcwd"}, "--allow-code"),
    ({"unit": "fc.9:1"}, "fc.2"),
    ({"unit": "fc.2:7", "class": "bag"}, "class"),
    ({}, "--class"),
    ({"class": "bag", "model": "nosuch"}, "nosuch"),
    ({"class": "3", "model": "mnist-cinn", "steps": "5"}, "--steps"),
    ({"task": "inpaint", "image": "not a picture"}, "data: URL"),
    ({"task": "colorize"}, "fashion-mnist"),
    ({"task": "nosuch"}, "task"),
])  # fmt: skip
def test_a_bad_field_gives_one_line_naming_it(client, fields, needle):
    refused(client, needle, **{"task": "sample", "model": "fashion-mnist", "num": "2", "steps": "2", **fields})


def test_a_body_that_is_not_json_gives_one_line(client):
    response = client.post("/api/jobs", content=b"{nope", headers={"content-type": "application/json"})
    assert response.status_code == 400 and "JSON" in response.json()["error"]


def test_the_stop_button_ends_the_chain_and_the_command_reproduces_what_it_showed(client, tmp_path):
    job = submit(client, task="sample", model="fashion-mnist", **{"class": "coat"}, num="2", steps="400", seed="5")
    events = []
    with client.stream("GET", f"/api/jobs/{job}/events") as stream:
        for line in stream.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line[6:]))
                if events[-1]["type"] == "frame" and events[-1]["step"] >= 16:
                    assert client.post(f"/api/jobs/{job}/stop").status_code == 200
    done = events[-1]
    assert done["type"] == "done" and 16 <= done["stopped_at"] < 400, done
    assert f"--steps {done['stopped_at']}" in done["commands"][0]
    download(client, done["files"]["samples.npz"], tmp_path / "page.npz")
    np.testing.assert_array_equal(reproduce(done["commands"][0], tmp_path)["images"], load_npz(tmp_path / "page.npz")["images"])


def test_a_waiting_request_can_be_stopped_before_it_starts(client):
    first = submit(client, task="sample", model="fashion-mnist", **{"class": "bag"}, num="2", steps="30")
    second = submit(client, task="sample", model="fashion-mnist", **{"class": "bag"}, num="2", steps="30")
    assert client.post(f"/api/jobs/{second}/stop").json()["finished"] is True
    assert [e["type"] for e in follow(client, second)] == ["queued", "stopped"]
    assert follow(client, first)[-1]["type"] == "done"


def _png(array: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def test_inpainting_keeps_the_known_pixels_and_its_command_reproduces_it(client, tmp_path):
    image = fixture_image()
    mask = np.zeros((28, 28), np.uint8)
    mask[8:18, 8:18] = 255  # white = the hole
    done = follow(client, submit(client, task="inpaint", model="fashion-mnist", image=_png(image), mask=_png(mask),
                                 num="2", steps="3", seed="0", **{"class": "bag"}))[-1]
    assert done["type"] == "done", done
    assert set(done["files"]) == {"samples.npz", "grid.png", "input.png", "mask.png"}
    for name, url in done["files"].items():
        download(client, url, tmp_path / ("page.npz" if name == "samples.npz" else name))
    page = load_npz(tmp_path / "page.npz", num_classes=10)
    known = mask == 0
    assert (page["images"][:, known, 0] == image[known]).all() and page["labels"].tolist() == [8, 8]
    cli = reproduce(done["commands"][0], tmp_path)
    np.testing.assert_array_equal(cli["images"], page["images"])


def fixture_image() -> np.ndarray:
    """A real Fashion-MNIST test image from the fixtures, uint8 (28, 28)."""
    from ppgn.data import load_dataset

    return np.asarray(load_dataset("fashion-mnist", "test", FIXTURES / "fashion-mnist").images[0])


def test_a_cinn_samples_digits_of_a_class_at_a_temperature(client, tmp_path):
    done = follow(client, submit(client, task="sample", model="mnist-cinn", **{"class": "3"}, num="4", seed="2", temperature="0.5"))[-1]
    assert done["type"] == "done", done
    download(client, done["files"]["samples.npz"], tmp_path / "page.npz")
    page = load_npz(tmp_path / "page.npz", num_classes=10)
    assert page["labels"].tolist() == [3] * 4 and "--temperature 0.5" in done["commands"][0]
    np.testing.assert_array_equal(reproduce(done["commands"][0], tmp_path)["images"], page["images"])


def test_colourising_and_style_transfer_run_from_an_uploaded_picture(client):
    grey = _png(fixture_image())
    colour = follow(client, submit(client, task="colorize", model="emoji-colorizer", image=grey, num="3", seed="0"))[-1]
    assert colour["type"] == "done", colour
    assert client.get(colour["files"]["samples.npz"]).status_code == 200 and "ppgn colorize" in colour["commands"][0]
    styled = follow(client, submit(client, task="transfer", model="mnist-cinn", image=grey, **{"from": "3"}))[-1]
    assert styled["type"] == "done", styled
    assert picture(styled["grid"]).shape[1] > 10 * 28  # the input, then one image per class


def test_a_hidden_unit_runs_on_its_own(client):
    done = follow(client, submit(client, task="sample", model="fashion-mnist", unit="fc.2:7", num="2", steps="3"))[-1]
    assert done["type"] == "done", done
    assert done["commands"][0].startswith("ppgn visualize") and "--neuron fc.2:7" in done["commands"][0]


def test_the_page_loads_nothing_from_elsewhere(client):
    page = client.get("/")
    assert page.status_code == 200 and "<script" in page.text
    import re

    for url in re.findall(r'(?:src|href)="([^"]+)"', page.text):
        assert url.startswith(("/static/", "data:")), url
        if url.startswith("/static/"):
            body = client.get(url)
            assert body.status_code == 200, url
            assert not re.search(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", body.text.replace("http://www.w3.org", "")), url
    assert not re.search(r"https?://", page.text)


def test_models_and_layers_are_listed(client):
    models = {m["name"]: m for m in client.get("/api/models").json()}
    assert list(models)[0] == "fashion-mnist" and models["mnist-cinn"]["kind"] == "cinn"
    assert client.get("/api/layers?model=fashion-mnist").json()["fc.2"] == 256
    assert client.get("/api/layers?model=mnist-cinn").status_code == 400


def test_a_port_in_use_is_refused_in_one_line_before_serving():
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        code, _, err = invoke("serve", "--port", str(taken.getsockname()[1]))
    assert code == 2 and err.startswith("error: --port") and "in use" in err and len(err.strip().splitlines()) == 1, err
