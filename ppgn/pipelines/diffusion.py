"""The diffusion pipeline: a UNet denoiser, steered by the project's conditions or by its own labels.

    >>> pipe = DiffusionPipeline("runs/diffusion-fmnist", FASHION_MNIST_CLASSES)    # doctest: +SKIP
    >>> pipe.sample("sneaker", num=4, seed=0, guidance="classifier").labels.tolist()   # doctest: +SKIP
    [7, 7, 7, 7]

Three ways to ask for a class (``guidance``):

* ``"classifier"``: the unconditional model, each DDIM step steered by the classifier's
  ``ClassCondition`` read on the denoised estimate x̂0 (universal guidance / DPS): the same
  condition, and the same classifier, that PPGN's chain climbs;
* ``"cfg"``: classifier-free guidance, for a network trained with labels and a null label;
* ``"none"``: the unconditional model alone (the label is only recorded).

The classifier is the folder's ``classifier.safetensors``, else the one of the shipped PPGN
trained on the same dataset; it also gives each sample's ``prob``.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import numpy as np
import torch

from ..data import to_uint8
from ..io import check_choice, check_count, check_number, check_seed
from ..models import Classifier, WeightsError, load_model, read_card
from ..models.device import pick_device
from ..models.diffusion import UNet
from ..models.fuse import fold_batchnorm
from ..sampling import ClassCondition
from ..sampling.diffusion import (
    MAX_SCALE,
    DDIMConfig,
    DDIMSampler,
    NoiseSchedule,
    classifier_free,
)
from .outputs import MAX_NUM, Samples, class_labels
from .registry import shipped_models

GUIDANCE = ("classifier", "cfg", "none")
# Picked on seed 7 (10 samples per class, 50 steps; apart from the reported seeds 0, 1, 2) for the 42-minute
# Fashion-MNIST model, by evaluator FID, accuracy breaking near-ties. Classifier guidance: w = 3 / 10 / 30 (η = 1)
# gave FID 2.69 / 3.15 / 3.79 at accuracy 0.60 / 0.76 / 0.78, and w = 10 with η = 0 FID 6.28 at 0.59: it needs
# DDPM's fresh noise to recover from the steps it pushes off the data. Classifier-free: w = 1 / 2 / 3 / 5 (η = 0)
# gave FID 0.92 / 0.70 / 0.95 / 1.47 at accuracy 0.73 / 0.94 / 0.99 / 1.00 (recall 0.92 / 0.87 / 0.75 / 0.52).
DEFAULT_SCALE = {"classifier": 10.0, "cfg": 2.0, "none": 0.0}
DEFAULT_ETA = {"classifier": 1.0, "cfg": 0.0, "none": 0.0}


class DiffusionPipeline:
    """A diffusion model trained by ``train_diffusion``: ``diffusion.safetensors`` in a folder."""

    kind = "diffusion"

    def __init__(self, folder: str | Path, classes: tuple[str, ...], device: str | torch.device | None = None,
                 classifier: str | Path | None = None, weights: str = "diffusion"):  # fmt: skip
        """
        Args:
            classifier: a classifier's weights for classifier guidance and ``prob``; None: the
                folder's ``classifier.safetensors``, else the shipped PPGN's of the same dataset.
        """
        self.folder = Path(folder)
        self.classes = tuple(classes)
        self.device = pick_device(str(device) if device is not None else None)
        self.classifier_path = Path(classifier) if classifier is not None else None
        self.weights = weights

    @cached_property
    def network(self) -> UNet:
        """The denoiser ε(x_t, t, y) (the moving average of its weights), frozen."""
        net = load_model(self.folder / f"{self.weights}.safetensors", self.device, expect=UNet).requires_grad_(False)
        if net.config.num_classes is not None and net.config.num_classes != len(self.classes):
            raise WeightsError(f"{self.folder}: {self.weights}.safetensors knows {net.config.num_classes} classes, "
                               f"the folder describes {len(self.classes)}; fix its manifest's classes")  # fmt: skip
        return net

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(H, W, C) of its images, as in the ``.npz`` contract."""
        c = self.network.config
        return (c.image_size, c.image_size, c.image_channels)

    @property
    def schedule(self) -> NoiseSchedule:
        return NoiseSchedule.make(self.network.config.schedule, self.network.config.timesteps)

    def find_classifier(self) -> Path | None:
        """Where the classifier is: given, the folder's, or the shipped PPGN's of the same dataset (None: nowhere)."""
        if self.classifier_path is not None:
            return self.classifier_path
        if (self.folder / "classifier.safetensors").is_file():
            return self.folder / "classifier.safetensors"
        dataset = (read_card(self.folder / f"{self.weights}.safetensors").get("training_config") or {}).get("dataset")
        for entry in shipped_models().values():
            if entry.kind == "ppgn" and entry.dataset == dataset and (entry.folder / "classifier.safetensors").is_file():
                return entry.folder / "classifier.safetensors"
        return None

    @cached_property
    def classifier(self) -> Classifier:
        """The classifier, frozen, BatchNorm folded, channels-last (as ``PPGNPipeline.classifier``)."""
        path = self.find_classifier()
        if path is None:
            raise WeightsError(f"{self.folder} has no classifier.safetensors and no shipped model was trained on its data; "
                               "copy one there, or pass classifier=PATH")  # fmt: skip
        C = load_model(path, self.device, expect=Classifier)
        made = (self.network.config.image_channels, self.network.config.image_size)
        if (C.config.image_channels, C.config.image_size) != made or C.config.num_classes != len(self.classes):
            raise WeightsError(f"{path} takes {C.config.image_channels}×{C.config.image_size}² images of {C.config.num_classes} classes; "
                               f"{self.folder} makes {made[0]}×{made[1]}² images of {len(self.classes)}: not one model")  # fmt: skip
        return fold_batchnorm(C).to(memory_format=torch.channels_last).requires_grad_(False)

    def denoiser(self, labels: torch.Tensor | None, guidance: str, scale: float):
        """ε(x_t, t) for the sampler: unconditional, or classifier-free guided towards ``labels`` (B,)."""
        net = self.network
        if guidance != "cfg":
            return lambda x, t: net(x, t, None)
        if net.config.num_classes is None:
            raise ValueError(f"guidance 'cfg' needs a network trained with labels; {self.folder} holds an unconditional one: "
                             "use guidance 'classifier'")  # fmt: skip
        null = torch.full_like(labels, net.config.null_label)

        def eps(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            both = net(torch.cat([x, x]), torch.cat([t, t]), torch.cat([labels, null]))  # one pass for both branches
            cond, uncond = both.chunk(2)
            return classifier_free(cond, uncond, scale)

        return eps

    def sample(
        self,
        class_: str | int | list[int] | torch.Tensor,
        num: int = 16,
        seed: int = 0,
        steps: int = 50,
        guidance: str = "classifier",
        scale: float | None = None,
        eta: float | None = None,
        recurrence: int = 1,
        batch: int = 256,
        record: int = 0,
        progress: bool = False,
    ) -> Samples:
        """Sample ``num`` images of a class (a name, an index, or one index per sample).

        Args:
            steps: DDIM steps (network evaluations: ×2 for "cfg", ≈×3 for "classifier", which backpropagates).
            guidance: "classifier", "cfg" or "none" (see the module's notes).
            scale: the guidance weight; None: ``DEFAULT_SCALE[guidance]``.
            eta: 0 for deterministic DDIM, 1 for DDPM's ancestral noise; None: ``DEFAULT_ETA[guidance]``.
            recurrence: make each step this many times, renoised between (universal guidance's self-recurrence).
            batch: samples denoised at once (memory grows with it).
            record: keep the denoised estimates x̂0 of the first ``record`` samples at each step.
        Returns:
            ``Samples``: ``h`` is the start noise x_T (N, C, H, W); ``prob_per_step`` the
            classifier's p(class | x̂0) at each step (for "classifier"; empty otherwise).
        """
        # 1. Check inputs.
        num, seed = check_count(num, "num", high=MAX_NUM), check_seed(seed)
        check_choice(guidance, "guidance", GUIDANCE)
        scale = DEFAULT_SCALE[guidance] if scale is None else check_number(scale, "scale", low=0, high=MAX_SCALE)
        eta = DEFAULT_ETA[guidance] if eta is None else check_number(eta, "eta", low=0, high=1)
        steps, batch = check_count(steps, "steps", high=self.network.config.timesteps), check_count(batch, "batch")
        record, recurrence = check_count(record, "record", low=0), check_count(recurrence, "recurrence", high=100)
        labels = class_labels(class_, num, self.classes)
        # 2. Wire the parts (noise on the CPU, so a seed gives the same images on any device).
        c = self.network.config
        sampler = DDIMSampler(self.schedule, DDIMConfig(steps=steps, eta=eta, scale=scale if guidance == "classifier" else 0.0, recurrence=recurrence))
        gen = torch.Generator(device="cpu").manual_seed(seed)
        x_T = torch.randn((num, c.image_channels, c.image_size, c.image_size), generator=gen)
        # 3. Denoise, a batch at a time.
        images, probs, trajectory = [], [], []
        for start in range(0, num, batch):
            part = slice(start, min(start + batch, num))
            y = labels[part].to(self.device)
            condition = ClassCondition(self.classifier, y) if guidance == "classifier" else None
            out = sampler.sample(self.denoiser(y, guidance, scale), x_T[part].to(self.device), condition, gen,
                                 record=max(0, min(record - start, len(y))), progress=progress)  # fmt: skip
            images.append(out.images)
            probs.append(out.prob.cpu())
            if out.trajectory is not None:
                trajectory.append(out.trajectory.cpu())
        images = torch.cat(images)
        # 4. Output.
        return Samples(
            array=to_uint8(images),
            labels=labels.numpy(),
            prob=self.final_prob(images, labels),
            h=x_T,
            prob_per_step=torch.cat(probs, 1),
            trajectory=torch.cat(trajectory, 1) if trajectory else None,
        )

    @torch.no_grad()
    def final_prob(self, images: torch.Tensor, labels: torch.Tensor) -> np.ndarray:
        """The classifier's p(label | x) of each image (N,), or NaN where there is no classifier."""
        if self.find_classifier() is None:
            return np.full(len(images), np.nan, np.float32)
        p = torch.cat([self.classifier(x).softmax(1) for x in images.split(512)])
        return p.gather(1, labels.to(p.device)[:, None]).squeeze(1).float().cpu().numpy()
