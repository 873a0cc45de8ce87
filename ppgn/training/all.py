"""Recipe of recipes: from a dataset to a model folder that ``ppgn.load`` and every command use.

    ppgn train all --data DIR --size 64 --out runs/mine

Stages, in order, each the project's own recipe with its own config:

    classifier   E/C, whose code h the generator draws from          classifier.safetensors
    evaluator    the independent classifier that measures samples    evaluator.safetensors (+ -reference)
    generator    G (and D) as in Joint PPGN-h, noise on h            generator.safetensors
    noiseless    G trained without noise (presets dgn-am, ppgn-x/h)  generator-noiseless.safetensors   (optional)
    dae-h, dae-x the separate DAEs of PPGN-h and PPGN-x              dae-h/dae-x.safetensors            (optional)

then ``manifest.json``: the folder's dataset, classes, image shape, data fingerprint and the
command behind every file. Each stage trains in ``out/train/<stage>/`` (its checkpoints live
there, so a killed run resumes inside the stage it was in) and its weights are copied to
``out/`` when it ends; a stage whose weights are already there, made by the same config, is
skipped. So rerunning the same command after a kill at any point finishes the job. Rerun with
other options, a stage they change starts afresh: its work folder is this recipe's own, so its
checkpoint of the old config is dropped (where a lone recipe would refuse to train over it).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..data import BUILTIN, open_dataset
from ..io import InputError, atomic_write, write_json
from . import distributed
from .classifier import ClassifierTrainConfig, train_classifier
from .common import OPTIONAL, check_fields, check_image_shape
from .dae import DAETrainConfig, train_dae
from .generator import GeneratorTrainConfig, train_generator
from .limits import BATCH, CHANNELS, EPOCHS, MULTIPLIER, SEED, SIZE, SUBSET, UNITS
from .loop import Checkpoint, command_line

MANIFEST = "manifest.json"  # read by ppgn.pipelines.registry


@dataclass(frozen=True)
class AllTrainConfig:
    data: str  # a built-in name, a folder root/<class>/*.png, or a contract .npz (open_dataset)
    size: int | None = None  # image side, 28, 32, 64 or 128; None: the data's own
    channels: int | None = None  # 1 or 3; None: the data's own
    skip_bad: bool = False  # leave out files that are not images and empty class folders, counted in the cards
    width: float = 1.0  # every network's width multiplier: E/C and the evaluator ×1, G ×4, D ×2 (as shipped at 28 px)
    generator_width: float | None = None  # G's own multiplier; None: 4 × width (G is most of a model's size)
    code_dim: int = 256  # size of h
    epochs: int | None = None  # every stage's, unless the stage's own is given; None: each recipe's default
    classifier_epochs: int | None = None
    evaluator_epochs: int | None = None
    generator_epochs: int | None = None
    dae_epochs: int | None = None
    batch_size: int | None = None  # every stage's; None: each recipe's default
    noiseless: bool = False  # also train G without noise on h (the paper's other presets)
    daes: bool = False  # also train the DAEs on h and on x (presets ppgn-h, ppgn-x)
    train_subset: int = 0  # 0 = the whole training set
    seed: int = 0

    def __post_init__(self):
        epochs = EPOCHS | OPTIONAL
        check_fields(self, size=SIZE | OPTIONAL, channels=CHANNELS | OPTIONAL, width=MULTIPLIER, generator_width=MULTIPLIER | OPTIONAL,
                     code_dim=UNITS, epochs=epochs, classifier_epochs=epochs, evaluator_epochs=epochs, generator_epochs=epochs,
                     dae_epochs=epochs, batch_size=BATCH | OPTIONAL, train_subset=SUBSET,
                     seed=SEED | dict(high=SEED["high"] - 1))  # the evaluator trains with seed + 1  # fmt: skip
        check_image_shape(self)

    def epochs_of(self, stage: str) -> dict:
        """{"epochs": n} for a stage, or {} to keep its recipe's default."""
        own = {"classifier": self.classifier_epochs, "evaluator": self.evaluator_epochs, "generator": self.generator_epochs,
               "noiseless": self.generator_epochs, "dae-h": self.dae_epochs, "dae-x": self.dae_epochs}[stage]
        epochs = own if own is not None else self.epochs
        return {} if epochs is None else {"epochs": epochs}

    def stage(self, name: str) -> dict:
        """The options a stage's recipe config takes from this one."""
        batch = {} if self.batch_size is None else {"batch_size": self.batch_size}
        data = dict(dataset=self.data, size=self.size, channels=self.channels, skip_bad=self.skip_bad, train_subset=self.train_subset)
        return data | batch | self.epochs_of(name)


def stage_plan(config: AllTrainConfig, out: Path) -> list[tuple[str, Callable, object, tuple[str, ...]]]:
    """(stage, recipe, recipe config, files it ships) for every stage the config asks for."""
    classifier = str(out / "classifier.safetensors")
    g_widths = dict(width=config.generator_width or 4 * config.width, d_width=2 * config.width)
    plan = [
        ("classifier", train_classifier, ClassifierTrainConfig(model="classifier", seed=config.seed, width=config.width,
                                                               code_dim=config.code_dim, **config.stage("classifier")), ("classifier",)),
        ("evaluator", train_classifier, ClassifierTrainConfig(model="evaluator", seed=config.seed + 1, width=config.width,
                                                              **config.stage("evaluator")), ("evaluator", "evaluator-reference")),
        ("generator", train_generator, GeneratorTrainConfig(classifier=classifier, seed=config.seed, **g_widths,
                                                            **config.stage("generator")), ("generator",)),
    ]  # fmt: skip
    if config.noiseless:
        plan.append(("noiseless", train_generator, GeneratorTrainConfig(classifier=classifier, noise=0.0, seed=config.seed, **g_widths,
                                                                        **config.stage("noiseless")), ("generator-noiseless",)))
    if config.daes:
        for space in ("h", "x"):
            plan.append((f"dae-{space}", train_dae, DAETrainConfig(classifier=classifier, space=space, seed=config.seed,
                                                                   **config.stage(f"dae-{space}")), (f"dae-{space}",)))
    return plan


def _done(out: Path, file: str, recipe_config) -> bool:
    """Whether ``out/<file>.safetensors`` exists and its card records this very recipe config."""
    card = out / f"{file}.json"
    if not (out / f"{file}.safetensors").is_file() or not card.is_file():
        return False
    try:
        return json.loads(card.read_text()).get("training_config") == json.loads(json.dumps(dataclasses.asdict(recipe_config)))
    except json.JSONDecodeError:
        return False


def _ship(work: Path, out: Path, file: str, written: str) -> None:
    """Copy a stage's weights (``written``, and its card) from its work folder to ``out/<file>``, atomically."""
    for suffix in (".safetensors", ".json"):
        source = work / f"{written}{suffix}"
        if source.is_file():
            atomic_write(out / f"{file}{suffix}", lambda tmp, source=source: shutil.copyfile(source, tmp))


def check_batches(config: AllTrainConfig, plan: list, n: int) -> None:
    """Refuse, before the first stage trains, a batch that the ``n`` training examples do not fill."""
    for stage, _, recipe_config, _ in plan:
        if recipe_config.batch_size > n:
            have = f"--train-subset {config.train_subset} leaves {n} training examples" if config.train_subset else f"the training set has {n} examples"
            fix = "raise --train-subset (0 = all) or lower --batch-size" if config.train_subset else "lower --batch-size"
            raise InputError(f"{have}, fewer than one batch of the {stage} stage (--batch-size {recipe_config.batch_size}): {fix}")


def drop_stale_checkpoint(work: Path, recipe_config, say: Callable[[str], None]) -> None:
    """Remove the checkpoint a stage's work folder holds from another config, so the stage starts afresh."""
    ckpt = Checkpoint(work)
    if ckpt.exists():
        changed = ckpt.changes(ckpt.load(), recipe_config)
        if changed is not None:
            say(f"{work.name}: options changed ({changed}); starting the stage afresh")
            ckpt.path.unlink()


def train_all(config: AllTrainConfig, out: str | Path, data_dir: str | None = None, device: str | None = None,
              quiet: bool = False, say: Callable[[str], None] = lambda line: None, amp: str | None = None,
              workers: int = 0) -> dict:  # fmt: skip
    """Train every stage the config asks for into ``out`` (resuming or skipping finished ones) and
    write its manifest. Returns the manifest.

    Under torchrun every process runs every stage together; rank 0 alone writes files and speaks.
    """
    out = Path(out)
    data = open_dataset(config.data, "train", config.size, config.channels, data_dir, config.skip_bad)  # refuse bad data first
    main = distributed.is_main()
    say = say if main else (lambda line: None)
    cards, plan = {}, stage_plan(config, out)
    check_batches(config, plan, len(data) if not config.train_subset else min(config.train_subset, len(data)))
    for stage, recipe, recipe_config, files in plan:
        if all(_done(out, f, recipe_config) for f in files if not f.endswith("-reference")):
            say(f"{stage}: done already ({out / files[0]}.safetensors)")
        else:
            work = out / "train" / stage
            if main:
                drop_stale_checkpoint(work, recipe_config, say)
            say(f"{stage}: training in {work}")
            recipe(recipe_config, work, data_dir, device, quiet, amp=amp, workers=workers)
            if main:
                for file in files:  # the recipe names its weights after the network: G is "generator" either way
                    _ship(work, out, file, "generator" if file == "generator-noiseless" else file)
            distributed.barrier()
        cards[files[0]] = json.loads((out / f"{files[0]}.json").read_text())
    channels, size, _ = data.image_shape
    manifest = {
        "dataset": config.data if config.data in BUILTIN else str(Path(config.data).resolve()),  # found from any directory
        "classes": list(data.classes),
        "image_shape": [channels, size, size],
        "models": {out.name: {"kind": "ppgn", "weights": "classifier", "description": f"PPGN trained by 'ppgn train all' on {config.data}"}},
        "data_sha256": data.fingerprint.sha256,
        "data": data.fingerprint.summary,
        "commands": {file: card.get("command") for file, card in cards.items()} | {"all": command_line()},
        "training_config": dataclasses.asdict(config),
    }
    if main:
        write_json(out / MANIFEST, manifest)
    distributed.barrier()
    return manifest
