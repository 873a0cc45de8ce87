"""Models by name or folder: every model folder describes itself in ``manifest.json``.

A manifest names the folder's dataset, its classes, its image shape (C, H, W), the data's
fingerprint, the commands that made its files, and the models it holds, each with its kind
("ppgn", "cinn" or "colorizer") and main weights file:

    {"dataset": "fashion-mnist", "classes": ["T-shirt/top", ...], "image_shape": [1, 28, 28],
     "models": {"fashion-mnist": {"kind": "ppgn", "weights": "classifier"}}, ...}

The shipped names are the models of the manifests in ``ppgn/weights/*/``. A folder trained by
``ppgn train ...`` without a manifest is described from its weights' cards (the kind from the
files it holds, the classes from the dataset it was trained on); nothing falls back silently
to Fashion-MNIST.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..data import BUILTIN, dataset_classes
from ..io import InputError, read_json_file
from ..models import WeightsError, read_card

WEIGHTS = Path(__file__).resolve().parent.parent / "weights"
MANIFEST = "manifest.json"
KINDS = ("ppgn", "cinn", "colorizer")


@dataclass(frozen=True)
class ModelEntry:
    """One model of a folder: what ``load`` needs to build its pipeline.

    Attributes:
        name: the model's name ("fashion-mnist", or the folder's path for a user folder).
        kind: "ppgn", "cinn" or "colorizer".
        folder: the folder holding its weights.
        weights: the stem of its main weights file ("classifier" for a PPGN, "cinn", ...).
        classes: class names, by index.
        image_shape: (C, H, W).
        dataset: the dataset it was trained on.
        command: the command that made its main weights file, if the manifest records it.
    """

    name: str
    kind: str
    folder: Path
    weights: str
    classes: tuple[str, ...]
    image_shape: tuple[int, ...]
    dataset: str
    command: str | None = None

    @property
    def path(self) -> Path:
        """Its main weights file."""
        return self.folder / f"{self.weights}.safetensors"


def read_manifest(folder: str | Path) -> list[ModelEntry]:
    """The models that ``folder/manifest.json`` lists.

    Raises:
        WeightsError: one line, for a manifest that is not JSON or lacks what it must say.
    """
    folder = Path(folder)
    path = folder / MANIFEST
    try:
        manifest = read_json_file(path, "model manifest")
    except InputError as err:
        raise WeightsError(f"{err}: not a valid model manifest (a JSON object with dataset, classes, image_shape "
                           "and models)") from None
    try:
        models, classes, image_shape, dataset = (manifest[k] for k in ("models", "classes", "image_shape", "dataset"))
        entries = [
            ModelEntry(
                name=name, kind=spec["kind"], folder=folder, weights=spec.get("weights", spec["kind"]),
                classes=tuple(classes), image_shape=tuple(image_shape), dataset=dataset,
                command=manifest.get("commands", {}).get(spec.get("weights", spec["kind"])),
            )
            for name, spec in models.items()
        ]
    except (KeyError, TypeError, AttributeError) as err:
        raise WeightsError(f"{path}: not a valid model manifest ({type(err).__name__}: {err}); it needs "
                           "dataset, classes, image_shape and models: {NAME: {kind, weights}}") from None
    why = _bad_description(classes, image_shape, dataset)
    if why:
        raise WeightsError(f"{path}: not a valid model manifest: {why}")
    for entry in entries:
        if entry.kind not in KINDS:
            raise WeightsError(f"{path}: model {entry.name!r} has unknown kind {entry.kind!r}; valid: {', '.join(KINDS)}")
        if not isinstance(entry.weights, str) or not entry.weights or "/" in entry.weights or "\\" in entry.weights:
            raise WeightsError(f"{path}: model {entry.name!r} names weights {entry.weights!r}; give the stem of a file in {folder}")
    return entries


def _bad_description(classes, image_shape, dataset) -> str | None:
    """Why a manifest's (or card's) classes, image shape and dataset cannot describe a model (None: they can)."""
    if not isinstance(classes, (list, tuple)) or not all(isinstance(c, str) for c in classes):
        return f"classes must be a list of names, got {str(classes)[:60]}"
    if not (isinstance(image_shape, (list, tuple)) and len(image_shape) == 3
            and all(isinstance(n, int) and not isinstance(n, bool) and 0 < n <= 4096 for n in image_shape)):
        return f"image_shape must be [C, H, W] of positive integers, got {str(image_shape)[:60]}"
    if not isinstance(dataset, str):
        return f"dataset must be a name, got {str(dataset)[:60]}"
    return None


def describe_folder(folder: str | Path) -> ModelEntry:
    """A folder's model: from its manifest (the first model listed), else from the cards of the
    weights it holds.

    Raises:
        WeightsError: no such folder, no model in it, or a dataset whose classes are unknown.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise WeightsError(f"no such model folder: {folder}")
    if (folder / MANIFEST).is_file():
        entries = read_manifest(folder)
        if not entries:
            raise WeightsError(f"{folder / MANIFEST} lists no models")
        return entries[0]  # a folder's main model comes first
    for kind, stem in (("ppgn", "classifier"), ("cinn", "cinn"), ("colorizer", "colorizer")):
        if (folder / f"{stem}.safetensors").is_file():
            break
    else:
        raise WeightsError(f"{folder}: no {MANIFEST}, classifier.safetensors, cinn.safetensors or colorizer.safetensors; "
                           "train one with 'ppgn train classifier|cinn|colorizer --out FOLDER'")
    card = read_card(folder / f"{stem}.safetensors")
    config, training = (card.get(k) if isinstance(card.get(k), dict) else {} for k in ("config", "training_config"))
    if config.get("x_shape"):
        shape = config["x_shape"]
    elif "image_size" in config and "image_channels" in config:
        shape = [config["image_channels"], config["image_size"], config["image_size"]]
    else:
        raise WeightsError(f"{folder}: no {MANIFEST}, and the card of {stem}.safetensors does not give the image shape; "
                           f"write a {MANIFEST} with image_shape [C, H, W]")
    why = _bad_description([], shape, "")
    if why:
        raise WeightsError(f"{folder / stem}.json: {why}; write a {MANIFEST} with image_shape [C, H, W]")
    shape = tuple(shape)
    if kind == "colorizer":  # colours grey images: no classes
        return ModelEntry(str(folder), kind, folder, stem, (), (3, *shape[1:]), str(training.get("source", "")))
    dataset = training.get("dataset")
    if dataset not in BUILTIN:
        raise WeightsError(f"{folder}: no {MANIFEST}, and the card of {stem}.safetensors names dataset {dataset!r}; "
                           f"write a {MANIFEST} with the classes (known datasets: {', '.join(BUILTIN)})")
    return ModelEntry(str(folder), kind, folder, stem, dataset_classes(dataset), shape, dataset)


def shipped_models() -> dict[str, ModelEntry]:
    """Every shipped model, by name, from the manifests in ``ppgn/weights/``."""
    return {e.name: e for manifest in sorted(WEIGHTS.glob(f"*/{MANIFEST}")) for e in read_manifest(manifest.parent)}


def model_names(kind: str | None = None) -> list[str]:
    """The shipped models' names (of one kind, if given)."""
    return sorted(name for name, e in shipped_models().items() if kind is None or e.kind == kind)


def resolve(model: str | Path) -> ModelEntry:
    """A shipped model's name or a model folder → its entry.

    Raises:
        WeightsError: one line naming the shipped models.
    """
    shipped = shipped_models()
    if str(model) in shipped:
        entry = shipped[str(model)]
    elif Path(model).is_dir():
        entry = describe_folder(model)
    else:
        raise WeightsError(f"unknown model {str(model)!r}; valid: {', '.join(sorted(shipped))}, or a folder of trained weights")
    if not entry.path.is_file():
        made_by = f"; it is made by '{entry.command}'" if entry.command else ""
        raise WeightsError(f"model {entry.name!r}: weights not found: {entry.path}{made_by}")
    return entry


# The optional files of a ``ppgn train all`` folder, with the option of that command that adds each.
TRAIN_ALL_OPTIONS = {"generator-noiseless": "--noiseless", "dae-h": "--daes", "dae-x": "--daes"}


def how_to_make(folder: str | Path, *stems: str) -> str:
    """How to make the files ``folder/<stem>.safetensors``, as the end of a one-line error: the
    commands the folder's manifest records for them, else its ``ppgn train all`` command with the
    options that add them (a rerun finishes what a killed run left), else the recipe of that name."""
    folder = Path(folder)
    try:  # only a hint: a missing or broken manifest gives the generic one
        manifest = read_json_file(folder / MANIFEST, "model manifest")
        commands = dict(manifest.get("commands") or {})
        dataset = str(manifest.get("dataset") or "DATA")
    except (InputError, AttributeError, TypeError, ValueError):
        commands, dataset = {}, "DATA"
    made, options, others = [], [], []
    for stem in stems:
        if commands.get(stem):
            made.append(commands[stem])
        elif stem in TRAIN_ALL_OPTIONS:
            options.append(TRAIN_ALL_OPTIONS[stem])
        else:
            others.append(stem)
    if options:
        base = commands.get("all") or f"ppgn train all --data {dataset} --out {folder}"
        made.append(" ".join([base, *(o for o in dict.fromkeys(options) if o not in base.split())]))
    pronoun = "it" if len(stems) == 1 else "them"
    phrases = [f"make {pronoun} with " + " and ".join(f"'{c}'" for c in dict.fromkeys(made))] if made else []
    phrases += [f"make {s}.safetensors with 'ppgn train {s} --out DIR' and copy it and its .json card into {folder}" for s in others]
    return "; ".join(phrases)
