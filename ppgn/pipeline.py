"""The pipeline: wires shipped networks, a prior, a condition and the sampler together.

    >>> import ppgn
    >>> pipe = ppgn.load("fashion-mnist")
    >>> out = pipe.sample("sneaker", num=4, seed=0, steps=20)
    >>> out.images[0].size
    (28, 28)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .data import FASHION_MNIST_CLASSES, parse_class
from .data.datasets import DIGIT_CLASSES, to_uint8
from .models import Classifier, CodeDAE, Generator, ImageDAE, load_model, read_card
from .models.fuse import fold_batchnorm
from .sampling import ClassCondition, DAEPrior, FlowPrior, ImageDAEPrior, JointPrior, MALASampler, NoPrior, Prior, get_preset
from .sampling.conditions import ConditionLike
from .sampling.presets import DEFAULT_PRESET
from .training.common import pick_device

WEIGHTS = Path(__file__).parent / "weights"
MODELS = {"fashion-mnist": FASHION_MNIST_CLASSES, "mnist-cinn": DIGIT_CLASSES, "fashion-mnist-cinn": FASHION_MNIST_CLASSES}
CINN_FOLDERS = {"mnist-cinn": "mnist", "fashion-mnist-cinn": "fashion-mnist"}  # cINNs: weights/<folder>/cinn.safetensors
MAX_NUM = 4096  # chains in one call: beyond this, call again (memory grows linearly)
INITS = ("gaussian", "uniform", "zeros")


@dataclass
class Samples:
    """Samples and what the sampler measured.

    Attributes:
        array: uint8 (N, H, W, C).
        labels: int64 (N,), the class asked for.
        prob: float32 (N,), the condition network's probability of that class at the end.
        h: (N, D) final codes.
        prob_per_step: (steps, N) the same probability along the chain.
        trajectory: (steps + 1, R, C, H, W) images of the first R chains in [-1, 1], or None.
    """

    array: np.ndarray
    labels: np.ndarray
    prob: np.ndarray
    h: torch.Tensor
    prob_per_step: torch.Tensor
    trajectory: torch.Tensor | None = None

    @property
    def images(self) -> list[Image.Image]:
        mode = "L" if self.array.shape[-1] == 1 else "RGB"
        return [Image.fromarray(a.squeeze(-1) if mode == "L" else a, mode) for a in self.array]


def model_names() -> list[str]:
    return sorted(MODELS)


class PPGNPipeline:
    """A shipped (or user-trained) PPGN: encoder/classifier E/C and generators G, in one folder."""

    def __init__(self, folder: str | Path, classes: tuple[str, ...], device: str | torch.device | None = None):
        self.folder = Path(folder)
        self.classes = classes
        self.device = pick_device(str(device) if device is not None else None)
        self._generators: dict[str, Generator] = {}

    @cached_property
    def classifier(self) -> Classifier:
        """E/C, frozen, prepared for the chain: BatchNorm folded, channels-last (≈2× faster on CPU)."""
        C = load_model(self.folder / "classifier.safetensors", self.device, expect=Classifier)
        return fold_batchnorm(C).to(memory_format=torch.channels_last)

    def generator(self, name: str = "generator") -> Generator:
        """G, frozen, BatchNorm folded; ``name`` is the weights file's stem."""
        if name not in self._generators:
            G = load_model(self.folder / f"{name}.safetensors", self.device, expect=Generator)
            self._generators[name] = fold_batchnorm(G)
        return self._generators[name]

    def prior(self, kind: str, G: Generator) -> Prior:
        """The prior a preset names: "none", "joint" (R(h) = E(G(h))), "dae-h", "dae-x" (shipped DAEs) or "flow"."""
        if kind == "joint":
            return JointPrior(G, self.classifier)
        if kind == "dae-h":
            return DAEPrior(self.code_dae)
        if kind == "dae-x":
            return ImageDAEPrior(G, self.image_dae)
        if kind == "flow":
            return FlowPrior(self.flow_prior)
        return NoPrior()

    @cached_property
    def flow_prior(self):
        """The normalising flow on h of preset ppgn-flow, frozen (an exact log p(h))."""
        from .models.flow_prior import CodeFlow

        return load_model(self.folder / "flow-prior.safetensors", self.device, expect=CodeFlow).requires_grad_(False)

    @cached_property
    def image_dae(self) -> ImageDAE:
        """The DAE on images of PPGN-x, frozen."""
        return load_model(self.folder / "dae-x.safetensors", self.device, expect=ImageDAE).requires_grad_(False)

    @cached_property
    def code_dae(self) -> CodeDAE:
        """The separate DAE on h of PPGN-h, frozen."""
        return load_model(self.folder / "dae-h.safetensors", self.device, expect=CodeDAE).requires_grad_(False)

    def card(self, name: str) -> dict:
        return read_card(self.folder / f"{name}.safetensors")

    def initial_codes(self, num: int, init: str | torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Where chains start, (N, D), clipped to the encoder's range [0, code_max].

        'gaussian': drawn from the Gaussian fitted to real codes E(x) (plausible images of any
        class); 'uniform': uniform in [0, code_max]; 'zeros'; or a tensor of codes, e.g. E(x).
        """
        C = self.classifier
        code_max = C.code_max
        if isinstance(init, torch.Tensor):
            if init.dim() != 2 or init.shape[0] not in (1, num) or init.shape[1] != code_max.numel():
                raise ValueError(f"init codes must have shape ({num} or 1, {code_max.numel()}), got {tuple(init.shape)}")
            return init.to(self.device, torch.float32).expand(num, -1).clone()
        if init == "gaussian":
            z = torch.randn(num, code_max.numel(), generator=generator).to(self.device)
            return (C.code_mean + z @ C.code_scale_tril.T).clamp(torch.zeros_like(code_max), code_max)
        if init == "uniform":
            return torch.rand(num, code_max.numel(), generator=generator).to(self.device) * code_max
        if init == "zeros":
            return torch.zeros(num, code_max.numel(), device=self.device)
        raise ValueError(f"unknown init {init!r}; valid: {', '.join(INITS)} or a tensor of codes")

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """h = E(x) for images (N, C, H, W) in [-1, 1]: a chain can start from a real image."""
        with torch.no_grad():
            return self.classifier.encode(images.to(self.device))[1]

    def sample(
        self,
        class_: str | int | list[int] | torch.Tensor,
        num: int = 16,
        preset: str = DEFAULT_PRESET,
        seed: int = 0,
        steps: int | None = None,
        eps1: float | None = None,
        eps2: float | None = None,
        eps3: float | None = None,
        condition: ConditionLike | None = None,
        form: str = "log-softmax",
        init: str | torch.Tensor = "gaussian",
        record: int = 0,
        progress: bool = False,
    ) -> Samples:
        """Sample ``num`` images of a class (a name, an index, or one index per chain).

        Args:
            condition: replaces the class condition (labels still name ``class_``).
            form: the class gradient, "log-softmax" or "official" ((1 − p_c)·∇logit_c).
            init: where chains start (see ``initial_codes``).
            record: keep the image trajectory of the first ``record`` chains.
        """
        # 1. Check inputs.
        if not 0 < num <= MAX_NUM:
            raise ValueError(f"num must be in 1..{MAX_NUM}, got {num}")
        labels = self._labels(class_, num)
        spec = get_preset(preset).with_overrides(steps=steps, eps1=eps1, eps2=eps2, eps3=eps3)
        # 2. Wire the parts.
        G = self.generator(spec.generator)
        prior = self.prior(spec.prior, G)
        condition = condition or ClassCondition(self.classifier, labels.to(self.device), form=form)
        gen = torch.Generator(device="cpu").manual_seed(seed)
        h0 = self.initial_codes(num, init, gen)
        # 3. Run the chains (noise is drawn on the CPU, so a seed gives the same noise on any device).
        out = MALASampler(spec.sampler).sample(
            h0, G, prior, condition, generator=gen, h_max=self.classifier.code_max,
            record=record, progress=progress,
        )
        # 4. Output.
        with torch.no_grad():
            final_prob = self.classifier(out.images).softmax(1).gather(1, labels.to(self.device)[:, None]).squeeze(1)
            trajectory = None
            if record:
                steps_, r, d = out.trajectory.shape
                trajectory = G(out.trajectory.reshape(steps_ * r, d)).reshape(steps_, r, *out.images.shape[1:]).cpu()
        return Samples(
            array=to_uint8(out.images),
            labels=labels.numpy(),
            prob=final_prob.float().cpu().numpy(),
            h=out.h.cpu(),
            prob_per_step=out.prob.cpu(),
            trajectory=trajectory,
        )

    def inpaint(self, image: torch.Tensor, mask: torch.Tensor, class_=None, **kwargs):
        """PPGN-context inpainting of ``image`` where ``mask`` is 0 (see ``ppgn.inpainting.inpaint``)."""
        from .inpainting import inpaint

        return inpaint(self, image, mask, class_, **kwargs)

    def _labels(self, class_, num: int) -> torch.Tensor:
        if isinstance(class_, torch.Tensor) or isinstance(class_, (list, tuple)):
            labels = torch.as_tensor(class_, dtype=torch.long)
            if labels.shape != (num,):
                raise ValueError(f"need one class per chain: {num} labels, got shape {tuple(labels.shape)}")
            bad = labels[(labels < 0) | (labels >= len(self.classes))]
            if len(bad):
                raise ValueError(f"class index {bad[0].item()} out of range; valid: 0..{len(self.classes) - 1}")
            return labels
        return torch.full((num,), parse_class(class_, self.classes), dtype=torch.long)


def load(model: str = "fashion-mnist", device: str | torch.device | None = None, folder: str | Path | None = None):
    """Load a shipped model by name (or any folder of weights trained by ``ppgn train``).

    Returns a ``PPGNPipeline``, or a ``CINNPipeline`` for "mnist-cinn", "fashion-mnist-cinn" and
    folders holding a ``cinn.safetensors`` but no PPGN classifier.
    """
    from .pipeline_cinn import CINNPipeline

    if folder is None and model in CINN_FOLDERS:
        return CINNPipeline(WEIGHTS / CINN_FOLDERS[model], MODELS[model], device)
    if folder is not None and (Path(folder) / "cinn.safetensors").is_file() and not (Path(folder) / "classifier.safetensors").is_file():
        dataset = read_card(Path(folder) / "cinn.safetensors").get("training_config", {}).get("dataset")
        return CINNPipeline(folder, FASHION_MNIST_CLASSES if dataset == "fashion-mnist" else DIGIT_CLASSES, device)
    if folder is None:
        if model not in MODELS:
            raise ValueError(f"unknown model {model!r}; valid: {', '.join(model_names())}")
        folder = WEIGHTS / model
    return PPGNPipeline(folder, MODELS.get(model, FASHION_MNIST_CLASSES), device)
