"""The PPGN pipeline: wires a folder's networks, a prior, a condition and the sampler together.

    >>> import ppgn
    >>> pipe = ppgn.load("fashion-mnist")
    >>> out = pipe.sample("sneaker", num=2, seed=0, steps=5)
    >>> out.images[0].size, out.labels.tolist()
    ((28, 28), [7, 7])
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import torch

from ..data import to_uint8
from ..io import check_choice, check_count, check_seed
from ..models import (
    Captioner,
    Classifier,
    CodeDAE,
    Generator,
    ImageDAE,
    WeightsError,
    load_model,
)
from ..models.device import pick_device
from ..models.flow_prior import CodeFlow
from ..models.score_prior import CodeScore
from ..models.fuse import fold_batchnorm
from ..models.generator import with_subpixel_upsampling
from ..sampling import (
    PRESETS,
    ClassCondition,
    DAEPrior,
    FlowPrior,
    ImageDAEPrior,
    JointPrior,
    MALASampler,
    NoiseConditionalPrior,
    NoPrior,
    Prior,
    get_preset,
)
from ..sampling.conditions import ConditionLike
from ..sampling.metropolis import MetropolisMALA, MHConfig, MHOutput
from ..sampling.presets import DEFAULT_PRESET
from .outputs import MAX_NUM, Samples, class_labels
from .registry import how_to_make

INITS = ("gaussian", "uniform", "zeros")
PRIORS = ("none", "joint", "dae-h", "dae-x", "flow", "score")
AUTOCASTS = {"off": None, "bf16": torch.bfloat16, "fp16": torch.float16}  # ``accelerate(autocast=)``
PRIOR_WEIGHTS = {"dae-h": "dae-h", "dae-x": "dae-x", "flow": "flow-prior", "score": "score-prior"}  # the priors with weights of their own


class PPGNPipeline:
    """A shipped (or user-trained) PPGN: encoder/classifier E/C and generators G, in one folder."""

    kind = "ppgn"

    def __init__(self, folder: str | Path, classes: tuple[str, ...], device: str | torch.device | None = None, dataset: str | None = None):
        self.folder = Path(folder)
        self.classes = tuple(classes)
        self.dataset = dataset  # what it was trained on (for real-image references)
        self.device = pick_device(str(device) if device is not None else None)
        self._generators: dict[str, Generator] = {}
        self.autocast, self.compile, self.subpixel = None, False, False  # how the chain runs (``accelerate``)

    def weights(self, stem: str) -> Path:
        """``folder/<stem>.safetensors``, which must exist.

        Raises:
            WeightsError: one line naming the missing file, the presets that need it and the command that makes it.
        """
        path = self.folder / f"{stem}.safetensors"
        if not path.is_file():
            needed = [p.name for p in PRESETS.values() if stem in (p.generator, PRIOR_WEIGHTS.get(p.prior))]
            by = f" (presets {', '.join(needed)} need it)" if needed else ""
            raise WeightsError(f"{self.folder} has no {path.name}{by}; {how_to_make(self.folder, stem)}")
        return path

    def check_preset(self, name: str) -> None:
        """Refuse a preset whose weights this folder lacks (e.g. ``dgn-am`` without ``generator-noiseless``).

        Raises:
            ValueError: an unknown preset, naming the valid ones.
            WeightsError: one line naming the missing files and the command that makes them.
        """
        preset = get_preset(name)
        stems = [preset.generator, *([PRIOR_WEIGHTS[preset.prior]] if preset.prior in PRIOR_WEIGHTS else [])]
        missing = [stem for stem in stems if not (self.folder / f"{stem}.safetensors").is_file()]
        if missing:
            files = " and ".join(f"{stem}.safetensors" for stem in missing)
            raise WeightsError(f"preset {name!r} needs {files}, which {self.folder} does not have; {how_to_make(self.folder, *missing)}")

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(H, W, C) of its images, as in the ``.npz`` contract."""
        config = self.classifier.config
        return (config.image_size, config.image_size, config.image_channels)

    @cached_property
    def classifier(self) -> Classifier:
        """E/C, frozen, prepared for the chain: BatchNorm folded, channels-last (≈2× faster on CPU)."""
        C = load_model(self.weights("classifier"), self.device, expect=Classifier)
        if C.config.num_classes != len(self.classes):  # a manifest (or card) that describes other weights
            raise WeightsError(f"{self.folder}: the manifest names {len(self.classes)} classes but classifier.safetensors has "
                               f"{C.config.num_classes}; fix the manifest's classes or retrain with 'ppgn train all'")
        return fold_batchnorm(C).to(memory_format=torch.channels_last)

    def generator(self, name: str = "generator") -> Generator:
        """G, frozen, BatchNorm folded; ``name`` is the weights file's stem."""
        if name not in self._generators:
            G = load_model(self.weights(name), self.device, expect=Generator)
            made, taken = (G.config.image_channels, G.config.image_size), (self.classifier.config.image_channels, self.classifier.config.image_size)
            if made != taken or G.config.code_dim != self.classifier.config.code_dim:
                raise WeightsError(f"{self.folder}: {name}.safetensors makes {made[0]}×{made[1]}² images from {G.config.code_dim}-d codes "
                                   f"but classifier.safetensors takes {taken[0]}×{taken[1]}² and gives {self.classifier.config.code_dim}-d codes: "
                                   "not one model; retrain the generator against this classifier")  # fmt: skip
            G = fold_batchnorm(G)
            if self.subpixel and G.config.upsample == "transpose":
                G = with_subpixel_upsampling(G)
            self._generators[name] = G
        return self._generators[name]

    def accelerate(self, autocast: str = "off", compile: bool = False, subpixel: bool = False) -> "PPGNPipeline":
        """Run the chains faster, at the cost of bit-for-bit equal images (all off: the default, exact).

        Args:
            autocast: "bf16" or "fp16": the networks run in that precision (``MALASampler(autocast=)``);
                fast where the device has a matrix unit for it (CUDA, CPUs with AMX); images change.
            compile: ``torch.compile`` each step's pass through G and the condition (``MALASampler(compile=)``;
                needs a C compiler on a CPU; the first steps compile, for minutes).
            subpixel: G's transposed convolutions run as their exact sub-pixel equivalents (oneDNN's
                convolutions; whether faster depends on the machine); the same function, images equal
                up to float rounding.

        Returns:
            The pipeline itself, its networks reloaded on their next use.
        """
        check_choice(autocast, "autocast", tuple(AUTOCASTS))
        self.autocast, self.compile, self.subpixel = AUTOCASTS[autocast], bool(compile), bool(subpixel)
        self._generators.clear()  # rebuilt as asked
        return self

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
        if kind == "score":
            return NoiseConditionalPrior(self.score_prior)
        if kind == "none":
            return NoPrior()
        raise ValueError(f"unknown prior {kind!r}; valid: {', '.join(PRIORS)}")

    @cached_property
    def flow_prior(self) -> CodeFlow:
        """The normalising flow on h of preset ppgn-flow, frozen (an exact log p(h))."""
        return load_model(self.weights("flow-prior"), self.device, expect=CodeFlow).requires_grad_(False)

    @cached_property
    def score_prior(self) -> CodeScore:
        """The noise-conditional prior on h (prior kind "score"; no shipped preset uses it), frozen (the score at every σ)."""
        return load_model(self.weights("score-prior"), self.device, expect=CodeScore).requires_grad_(False)

    @cached_property
    def captioner(self) -> Captioner:
        """The captioner shipped beside the networks (``captioner.safetensors``), frozen."""
        return load_model(self.weights("captioner"), self.device, expect=Captioner).requires_grad_(False)

    @cached_property
    def image_dae(self) -> ImageDAE:
        """The DAE on images of PPGN-x, frozen."""
        return load_model(self.weights("dae-x"), self.device, expect=ImageDAE).requires_grad_(False)

    @cached_property
    def code_dae(self) -> CodeDAE:
        """The separate DAE on h of PPGN-h, frozen."""
        return load_model(self.weights("dae-h"), self.device, expect=CodeDAE).requires_grad_(False)

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
        callback=None,
        mh: bool = False,
    ) -> Samples:
        """Sample ``num`` images of a class (a name, an index, or one index per chain).

        Args:
            condition: replaces the class condition (labels still name ``class_``).
            form: the class gradient, "log-softmax" or "official" ((1 − p_c)·∇logit_c).
            init: where chains start (see ``initial_codes``).
            record: keep the image trajectory of the first ``record`` chains.
            callback: ``callback(steps_done, h, prob)`` after each step (see ``MALASampler.sample``);
                G(h) gives the chain's images, and returning True stops the chains there.
            mh: exact MALA (``ppgn.sampling.metropolis``): each step is accepted or rejected, so the
                chains sample p(h)·p(y | G(h))^ε2 exactly; needs a prior with a log density (ppgn-flow).
                The step size adapts in the first half of the chain; ``Samples.acceptance`` reports the rest.
        """
        # 1. Check inputs.
        num, seed = check_count(num, "num", high=MAX_NUM), check_seed(seed)
        check_choice(form, "form", ClassCondition.FORMS)
        record = check_count(record, "record", low=0)
        labels = class_labels(class_, num, self.classes)
        self.check_preset(preset)
        spec = get_preset(preset).with_overrides(steps=steps, eps1=eps1, eps2=eps2, eps3=eps3)
        # 2. Wire the parts.
        G = self.generator(spec.generator)
        prior = self.prior(spec.prior, G)
        condition = condition or ClassCondition(self.classifier, labels.to(self.device), form=form)
        gen = torch.Generator(device="cpu").manual_seed(seed)
        h0 = self.initial_codes(num, init, gen)
        # 3. Run the chains (noise is drawn on the CPU, so a seed gives the same noise on any device).
        warm = None
        if spec.warm is not None:  # another preset's chain first; this one starts where it ends
            warm_spec = get_preset(spec.warm[0]).with_overrides(steps=spec.warm[1])
            G_warm = self.generator(warm_spec.generator)
            warm = MALASampler(warm_spec.sampler, autocast=self.autocast).sample(
                h0, G_warm, self.prior(warm_spec.prior, G_warm), condition, generator=gen, h_max=self.classifier.code_max,
                record=record, progress=progress, callback=callback,
            )
            h0, done = warm.h, len(warm.prob)
            if callback is not None:
                callback = (lambda f: lambda t, h, p: f(t + done, h, p))(callback)
        if warm is not None and len(warm.prob) < spec.warm[1]:  # the callback stopped the chains
            out, warm = warm, None
            if mh or spec.exact:
                out = MHOutput(**vars(out), acceptance=torch.full((num,), float("nan")))
        elif mh or spec.exact:
            out = self._metropolis(spec, eps1, eps3, h0, G, condition, gen, record, progress, callback)
        else:
            out = MALASampler(spec.sampler, autocast=self.autocast, compile=self.compile).sample(
                h0, G, prior, condition, generator=gen, h_max=self.classifier.code_max,
                record=record, progress=progress, callback=callback,
            )
        if warm is not None:
            out.prob = torch.cat([warm.prob, out.prob])
            if record:  # the second chain's first state is the first's last
                out.trajectory = torch.cat([warm.trajectory, out.trajectory[1:]])
        # 4. Output.
        with torch.no_grad():
            final_prob = self.classifier(out.images).softmax(1).gather(1, labels.to(self.device)[:, None]).squeeze(1)
            trajectory = None
            if record:
                steps_, r, d = out.trajectory.shape
                codes = out.trajectory.reshape(steps_ * r, d).clamp(torch.zeros_like(self.classifier.code_max), self.classifier.code_max)
                trajectory = G(codes).reshape(steps_, r, *out.images.shape[1:]).cpu()
        return Samples(
            array=to_uint8(out.images),
            labels=labels.numpy(),
            prob=final_prob.float().cpu().numpy(),
            h=out.h.cpu(),
            prob_per_step=out.prob.cpu(),
            trajectory=trajectory,
            acceptance=out.acceptance.cpu().numpy() if (mh or spec.exact) else None,
        )

    def _metropolis(self, spec, eps1, eps3, h0, G, condition, gen, record, progress, callback):
        """Exact MALA on p_flow(h)·p(y | G(clip(h)))^ε2: the flow's density, preconditioned by each unit's spread."""
        if spec.prior != "flow":
            raise ValueError(f"--mh needs a prior with a log density (preset ppgn-flow or ppgn-flow-mh); preset {spec.name!r} has "
                             f"prior {spec.prior!r}, which gives only a score")  # fmt: skip
        if eps1 is not None or eps3 is not None:
            raise ValueError("exact MALA (--mh, preset ppgn-flow-mh) sets the prior's weight (1) and the noise (√(2·step)) itself: "
                             "drop --eps1 and --eps3")
        flow, low, high = self.flow_prior, torch.zeros_like(self.classifier.code_max), self.classifier.code_max
        steps = spec.sampler.steps
        config = MHConfig(steps=steps, step=0.02, weight=spec.sampler.eps2, adapt=3 * steps // 10)
        # G is trained on codes in the encoder's range; the clip is part of the map h → x (exact for that target)
        return MetropolisMALA(config).sample(
            h0, lambda h: G(h.clamp(low, high)), flow.log_prob, condition, scale=flow.std, generator=gen,
            record=record, progress=progress, callback=callback,
        )

    def inpaint(self, image: torch.Tensor, mask: torch.Tensor, class_=None, **kwargs):
        """PPGN-context inpainting of ``image`` where ``mask`` is 0 (see ``ppgn.pipelines.inpaint.inpaint``)."""
        from .inpaint import inpaint

        return inpaint(self, image, mask, class_, **kwargs)
