"""The plug & play commands on the shipped weights: outputs, composition, and one-line errors."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from cli_helpers import one_line_error, run
from ppgn.data import load_fashion_mnist, to_tensor
from ppgn.io import load_npz
from ppgn.models import load_model
from ppgn.pipelines.registry import WEIGHTS

MLP = ["--condition-module", "ppgn.examples.condition_nets:mlp", "--weights", WEIGHTS / "fashion-mnist" / "condition-mlp.safetensors"]


@pytest.fixture(scope="module")
def shoe(tmp_path_factory):
    path = tmp_path_factory.mktemp("img") / "in.png"
    img = np.zeros((28, 28), np.uint8)
    img[12:22, 4:24] = 180
    Image.fromarray(img, "L").save(path)
    return path


def test_caption_composed_with_a_class_and_a_user_network(tmp_path):
    npz = tmp_path / "s.npz"
    result = run("sample", "--caption", "a small dark bag", "--class", "bag", "--not-class", "sneaker", *MLP, "--target", 8,
                 "-n", 3, "--steps", 3, "--out", npz, "-q")
    assert result.exit_code == 0, result.output
    assert (load_npz(npz, num_classes=10)["labels"] == 8).all()


def test_caption_alone_files_samples_under_the_class_it_names(tmp_path):
    npz = tmp_path / "s.npz"
    assert run("sample", "--caption", "a large light coat", "-n", 2, "--steps", 2, "--out", npz, "-q").exit_code == 0
    assert (np.load(npz)["labels"] == 4).all()


def test_user_network_alone(tmp_path):
    npz = tmp_path / "s.npz"
    result = run("sample", *MLP, "--target", 3, "-n", 2, "--steps", 2, "--out", npz, "-q")
    assert result.exit_code == 0, result.output
    assert (np.load(npz)["labels"] == 3).all()


@pytest.mark.parametrize(
    "args,needles",
    [
        (["--caption", "a small drak bag"], ["unknown word 'drak'", "nearest known words: dark"]),
        (["--caption", ""], ["--caption is empty"]),
        (["--caption", "a small dark"], ["names no class", "sneaker"]),
        (["--condition-module", "no_such_pkg.nets:mlp", "--target", "1"], ["cannot import 'no_such_pkg.nets'"]),
        (["--condition-module", "ppgn.examples.condition_nets", "--target", "1"], ["package.module:factory"]),
        (["--condition-module", "ppgn.examples.condition_nets:mlp", "--target", "10"], ["--target 10 out of range", "0..9"]),
        (["--condition-module", "ppgn.examples.condition_nets:mlp"], ["needs --target"]),
        (["--condition-module", "ppgn.examples.condition_nets:cnn", "--weights", WEIGHTS / "fashion-mnist" / "condition-mlp.safetensors",
          "--target", "1"], ["does not fit"]),
        (["--not-class", "bag"], ["--not-class needs"]),
        (["--class", "all", "--caption", "a bag"], ["--class all cannot be combined"]),
        ([], ["no condition given"]),
        (["--caption", "a bag", "--calibrate", "sideways"], ["unknown calibration", "up, match, off"]),
    ],
)
def test_sample_condition_errors(tmp_path, args, needles):
    out = tmp_path / "never.npz"
    one_line_error(run("sample", *args, "-n", 2, "--steps", 1, "--out", out, "-q"), *needles)
    assert not out.exists()


def test_visualize_list_prints_one_line_per_layer():
    result = run("visualize", "--list")
    assert result.exit_code == 0, result.output
    lines = dict(line.split(" ") for line in result.output.strip().splitlines())
    assert lines["fc.2"] == "256" and lines["features.0"] == "32" and lines["head.1"] == "10"


def test_visualize_writes_the_figure_and_the_json(tmp_path, fashion_mnist_dir):
    png, report = tmp_path / "grid.png", tmp_path / "v.json"
    result = run("visualize", "--neuron", "fc.2:7", "-n", 3, "--steps", 3, "--seed", 0, "--real-subset", 300,
                 "--data-dir", fashion_mnist_dir, "--out", png, "--json", report, "-q")
    assert result.exit_code == 0, result.output
    data = json.loads(report.read_text())
    assert data["layer"] == "fc.2" and data["unit"] == 7 and len(data["activations"]) == 3
    # The top-9 real activations are those of unit 7 of fc.2 over the first 300 training images, measured here apart.
    net = load_model(WEIGHTS / "fashion-mnist" / "classifier.safetensors")
    seen = []
    handle = net.get_submodule("fc.2").register_forward_hook(lambda module, args, out: seen.append(out[:, 7]))
    with torch.no_grad():
        net(to_tensor(load_fashion_mnist("train", fashion_mnist_dir).images[:300]))
    handle.remove()
    expected = torch.topk(seen[0], 9).values.numpy()
    np.testing.assert_allclose(data["top9_real"], expected, atol=1e-3)
    assert Image.open(png).size[0] > 9 * 28


def test_visualize_a_user_network_lists_its_layers():
    result = run("visualize", "--list", "--module", "ppgn.examples.condition_nets:cnn")
    assert result.exit_code == 0 and result.output.splitlines()[0] == "0 24"


@pytest.mark.parametrize(
    "args,needles",
    [
        (["--neuron", "fc.9:1"], ["unknown layer 'fc.9'", "fc.2"]),
        (["--neuron", "fc.2:256"], ["does not exist in fc.2", "0..255"]),
        (["--neuron", "fc.2"], ["LAYER:UNIT"]),
        (["--neuron", "fc.2:1", "--module", "nowhere.at_all:f"], ["cannot import"]),
        (["--neuron", "fc.2:1", "--spatial", "max"], ["centre, mean"]),
        ([], ["--neuron"]),
    ],
)
def test_visualize_errors(tmp_path, args, needles):
    one_line_error(run("visualize", *args, "--out", tmp_path / "g.png", "-q"), *needles)


def test_inpaint_writes_npz_and_png(tmp_path, shoe):
    npz, png = tmp_path / "f.npz", tmp_path / "f.png"
    result = run("inpaint", "--image", shoe, "--box", "8,8,10,10", "--class", "sneaker", "-n", 2, "--steps", 2, "--out", npz, "-q")
    assert result.exit_code == 0, result.output
    data = load_npz(npz, num_classes=10)
    assert (data["labels"] == 7).all()
    known = np.ones((28, 28), bool)
    known[8:18, 8:18] = False
    assert (data["images"][:, known, 0] == np.asarray(Image.open(shoe))[known]).all()  # real pixels outside the hole
    mask = tmp_path / "mask.png"
    Image.fromarray((~known * 255).astype(np.uint8), "L").save(mask)
    assert run("inpaint", "--image", shoe, "--mask", mask, "-n", 2, "--steps", 2, "--out", png, "-q").exit_code == 0
    assert Image.open(png).size[0] > 4 * 28


@pytest.mark.parametrize(
    "make,args,needles",
    [
        (None, ["--box", "20,20,10,10"], ["outside the 28×28 image"]),
        (None, ["--box", "1,2,3"], ["x,y,w,h"]),
        (None, ["--box", "1,1,0,4"], ["> 0"]),
        (None, [], ["exactly one of --box"]),
        ("big", ["--box", "1,1,4,4"], ["28×28", "32×32"]),
        ("text", ["--box", "1,1,4,4"], ["cannot read"]),
        ("nohole", ["--mask", "MASK"], ["no hole"]),
    ],
)
def test_inpaint_errors(tmp_path, shoe, make, args, needles):
    image = shoe
    if make == "big":
        image = tmp_path / "big.png"
        Image.new("L", (32, 32)).save(image)
    elif make == "text":
        image = tmp_path / "x.png"
        image.write_text("not a png")
    elif make == "nohole":
        mask = tmp_path / "mask.png"
        Image.new("L", (28, 28)).save(mask)
        args = ["--mask", mask]
    out = tmp_path / "never.npz"
    one_line_error(run("inpaint", "--image", image, *args, "--out", out, "-q"), *needles)
    assert not out.exists()


def test_a_colour_image_is_read_as_its_grey_luma(tmp_path, shoe):
    rgb = tmp_path / "rgb.png"
    Image.open(shoe).convert("RGB").save(rgb)  # the same pixels in three equal channels
    outs = [tmp_path / "grey.npz", tmp_path / "rgb.npz"]
    for image, out in zip((shoe, rgb), outs):
        assert run("inpaint", "--image", image, "--box", "8,8,10,10", "-n", 2, "--steps", 2, "--out", out, "-q").exit_code == 0
    assert np.array_equal(load_npz(outs[0])["images"], load_npz(outs[1])["images"])


def test_train_recipes_refuse_bad_input(tmp_path):
    one_line_error(run("train", "condition-net", "--module", "nowhere.x:y", "--dataset", "digits", "--out", tmp_path / "n", "-q"), "cannot import")
    one_line_error(run("train", "captioner", "--classifier", tmp_path / "missing.safetensors", "--dataset", "digits",
                       "--out", tmp_path / "c2", "-q"), "weights not found")
    one_line_error(run("train", "captioner", "--epochs", 0, "-q"), "--epochs", "got 0")


@pytest.mark.slow
def test_train_condition_net_and_captioner_recipes_write_weights_and_cards(tmp_path):
    result = run("train", "condition-net", "--module", "ppgn.examples.condition_nets:cnn", "--dataset", "digits",
                 "--epochs", 1, "--train-subset", 256, "--out", tmp_path / "cnn", "-q")
    assert result.exit_code == 0, result.output
    card = json.loads((tmp_path / "cnn" / "condition-cnn.json").read_text())
    assert card["seed"] == 0 and card["training_config"]["module"] == "ppgn.examples.condition_nets:cnn"
    npz = tmp_path / "s.npz"
    result = run("sample", "--condition-module", "ppgn.examples.condition_nets:cnn", "--weights", tmp_path / "cnn" / "condition-cnn.safetensors",
                 "--target", 2, "-n", 2, "--steps", 1, "--out", npz, "-q")
    assert result.exit_code == 0, result.output
    result = run("train", "captioner", "--dataset", "digits", "--epochs", 1, "--train-subset", 256, "--classifier", "none",
                 "--out", tmp_path / "cap", "-q")
    assert result.exit_code == 0, result.output
    card = json.loads((tmp_path / "cap" / "captioner.json").read_text())
    assert {"class_accuracy", "brightness_accuracy", "size_accuracy"} <= set(card["metrics"]) and card["seed"] == 0


def test_benches_run_small(tmp_path, fashion_mnist_dir):
    def bench(*args):
        report = tmp_path / f"{args[0]}.json"
        result = run("bench", *args, "--json", report, "-q")
        assert result.exit_code == 0, result.output
        return json.loads(report.read_text())

    rows = bench("networks", "--network", "mlp=ppgn.examples.condition_nets:mlp@condition-mlp", "-n", 1, "--steps", 1)
    assert [(r["network"], r["calibration"]) for r in rows] == [("shipped classifier (reference)", "-"), ("mlp", "up"),
                                                                ("mlp", "match"), ("mlp", "off")]
    assert all(0 <= r["accuracy"] <= 1 and r["fid"] > 0 for r in rows) and rows[3]["scale"] == 1.0
    for a in rows[1:]:  # the same network at the same scale draws the same chains
        for b in rows[1:]:
            if a["scale"] == b["scale"]:
                assert (a["accuracy"], a["fid"]) == (b["accuracy"], b["fid"])

    data = ["--data-dir", fashion_mnist_dir]
    rows = bench("neurons", "--neurons", "fc.2:7", "-n", 2, "--steps", 1, "--real-subset", 200, *data)
    assert [(r["neuron"], r["preset"]) for r in rows] == [("fc.2:7", "dgn-am"), ("fc.2:7", "joint-ppgn-h")]
    for r in rows:  # one real top activation per unit, and each ratio is to it
        assert r["real_top_activation"] == rows[0]["real_top_activation"] > 0
        assert r["activation_vs_real"] == pytest.approx(r["activation"] / r["real_top_activation"], abs=1e-3)

    rows = {r["method"]: r for r in bench("inpaint", "-n", 3, "--steps", 1, "--eps4", "0.03,0.1", *data)}
    assert {"mean fill", "nearest training neighbour", "(unmasked test images)"} <= set(rows)
    assert {m for m in rows if m.startswith("PPGN-context")} == {  # both context rows for each ε4 asked for
        f"PPGN-context ε4={e}{w}" for e in ("0.03", "0.1") for w in (" (class = C's guess)", ", no class")}
    assert rows["(unmasked test images)"]["hole_mse"] == 0 and rows["mean fill"]["hole_mse"] > 0.01
    assert all(0 <= r["hole_mse"] <= 4 and 0 <= r["evaluator_agreement"] <= 1 for r in rows.values())

    rows = bench("captions", "--captions", "a dark bag;a small coat", "-n", 2, "--steps", 1, *data)
    assert [(r["caption"], r["class"]) for r in rows] == [("a dark bag", "Bag"), ("a small coat", "Coat")]
    assert [set(r["attributes"]) for r in rows] == [{"dark"}, {"small"}]
    for r in rows:  # the evaluator recognises real images of the captioned class (it gets 90 % of the test set)
        assert r["real_agreement"] >= 0.75
        rates = [*r["attributes"].values(), *r["real_base_rate"].values(), *r["composed_attributes"].values()]
        assert all(0 <= v <= 1 for v in rates)
    one_line_error(run("bench", "inpaint", "--eps4", "a,b"), "comma-separated")
    one_line_error(run("bench", "captions", "--captions", "a drak bag", "-n", 1, *data), "nearest known words: dark")
