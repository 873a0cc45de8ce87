"""The paper's variants as named settings of one sampler (Nguyen et al., 2017, Table S1 and §3).

A preset says which prior to use, which generator weights, and the sampler's ε's.

The values were chosen on Fashion-MNIST by sweeps scored with the independent evaluator
(10 chains per class, 200 steps; docs/results.md). Unlike the official code, the joint
presets do not normalise the step by its mean |Δh|: with normalisation every step has the
same length however close the chain is to agreeing with the class, so chains overshoot into
a few prototypes (evaluator diversity 0.81 of real data, against 1.03 without). Without it the
update is the paper's equation as written: the class gradient fades as p(y | x) → 1 and the
prior R(h) − h then keeps the image on the generator's manifold, while ε3 keeps chains apart.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .sampler import SamplerConfig


@dataclass(frozen=True)
class Preset:
    name: str
    prior: str  # "none" (DGN-AM), "joint" (R(h) = E(G(h))), "dae-h" / "dae-x" (a DAE on h / x), "flow", "score" (noise-conditional)
    generator: str  # weights file stem: "generator" (trained with noise on h) or "generator-noiseless"
    sampler: SamplerConfig
    description: str
    exact: bool = False  # Metropolis-adjusted steps (``metropolis.MetropolisMALA``): needs a prior with a log density
    warm: tuple[str, int] | None = None  # (preset, steps): that preset's chain runs first and this one starts where it ends

    def with_overrides(self, **overrides) -> "Preset":
        """The same preset with some sampler settings replaced (None values are ignored)."""
        changes = {k: v for k, v in overrides.items() if v is not None}
        return replace(self, sampler=replace(self.sampler, **changes)) if changes else self


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in [
        Preset(
            "dgn-am",
            prior="none",
            generator="generator-noiseless",
            sampler=SamplerConfig(eps1=0.0, eps2=1.0, eps3=0.0, normalize=False),
            description="DGN-AM: activation maximisation in code space, no prior, no noise (ε1 = ε3 = 0).",
        ),
        Preset(
            "ppgn-x",
            prior="dae-x",
            generator="generator-noiseless",
            # The pulled-back image score pushes towards smooth, blurry images: ε1 = 0.01 / 0.03 /
            # 0.1 / 0.3 gave 88% / 76% / 55% / 41% evaluator accuracy, diversity falling with it.
            sampler=SamplerConfig(eps1=0.01, eps2=1.0, eps3=0.1, normalize=False),
            description="PPGN-x: a DAE on images as the prior, its score pulled back to h through G.",
        ),
        Preset(
            "ppgn-h",
            prior="dae-h",
            generator="generator-noiseless",
            # The separate DAE's R(h) − h is larger than E(G(h)) − h: ε1 = 0.3 drags chains to
            # a few modes (58% evaluator accuracy); 0.03 / 0.05 / 0.1 gave 92% / 83% / 73%.
            sampler=SamplerConfig(eps1=0.03, eps2=1.0, eps3=0.1, normalize=False),
            description="PPGN-h: a separate DAE on h as the prior, with the DGN-AM generator.",
        ),
        Preset(
            "joint-ppgn-h",
            prior="joint",
            generator="generator",
            sampler=SamplerConfig(eps1=0.3, eps2=1.0, eps3=0.1, normalize=False),
            description="Joint PPGN-h: prior R(h) = E(G(h)) from a G trained with noise on h.",
        ),
        Preset(
            "noiseless-joint-ppgn-h",
            prior="joint",
            generator="generator-noiseless",
            sampler=SamplerConfig(eps1=0.3, eps2=1.0, eps3=0.1, normalize=False),
            description="Noiseless Joint PPGN-h: the same prior, G trained without noise on h.",
        ),
        Preset(
            "ppgn-flow",
            prior="flow",
            generator="generator-noiseless",
            # An exact prior: the flow's score replaces R(h) − h. Sweep (10 chains per class, 200 steps,
            # docs/cinn.md): noiseless G, ε1 = 0.03 / 0.1 / 0.3: 82% / 83% / 85% evaluator accuracy,
            # Fréchet 7.4 / 7.4 / 3.6, diversity 0.78 / 0.77 / 1.02; the joint G (trained with noise
            # on h), same ε1: 83% / 79% / 78%, Fréchet 5.8 / 6.3 / 3.7.
            sampler=SamplerConfig(eps1=0.3, eps2=1.0, eps3=0.1, normalize=False),
            description="PPGN with an exact prior: a normalising flow on h (beyond the paper; docs/cinn.md).",
        ),
        Preset(
            "ppgn-flow-mh",
            prior="flow",
            generator="generator",
            # 100 Joint PPGN-h steps bring chains to the class; 100 exact MALA steps on
            # p_flow(h)·p(y | G(h))^ε2 then sample it. Tuned on seed 7 (10 per class; accuracy /
            # diversity / MS-SSIM / FID): from a Gaussian start, 200 exact steps, ε2 = 1 / 10 / 30:
            # 0.30 / 1.43 / 0.32 / 3.01, 0.84 / 1.14 / 0.38 / 1.82, 0.84 / 1.13 / 0.38 / 1.96 (chains do
            # not reach the class: the step shrinks as ε2 grows); warm start, ε2 = 10 / 30: 0.97 / 1.06 /
            # 0.41 / 1.52, 0.95 / 1.06 / 0.42 / 1.37; joint-ppgn-h on the same seed: 0.96 / 0.97 / 0.52 / 2.47.
            sampler=SamplerConfig(eps1=1.0, eps2=10.0, eps3=0.0, steps=100, normalize=False, clip=False),
            description="Joint PPGN-h for 100 steps, then 100 exact MALA steps with the flow prior (beyond the paper).",
            exact=True,
            warm=("joint-ppgn-h", 100),
        ),
    ]
}
DEFAULT_PRESET = "joint-ppgn-h"


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; valid: {', '.join(PRESETS)}")
    return PRESETS[name]
