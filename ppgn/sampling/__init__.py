"""Sampling: the MALA-approx sampler, priors on h, conditions on x, and the paper's presets."""

from .caption import CaptionCondition
from .conditions import ClassCondition, Condition, ConditionLike, GaussianCondition, SumCondition
from .context import ContextCondition
from .neuron import NeuronCondition
from .presets import DEFAULT_PRESET, PRESETS, Preset, get_preset
from .priors import DAEPrior, FlowPrior, GaussianPrior, ImageDAEPrior, JointPrior, NoiseConditionalPrior, NoPrior, Prior
from .sampler import ChainDiverged, MALASampler, SampleOutput, SamplerConfig

__all__ = [
    "CaptionCondition",
    "ChainDiverged",
    "ClassCondition",
    "ContextCondition",
    "NeuronCondition",
    "Condition",
    "ConditionLike",
    "DAEPrior",
    "DEFAULT_PRESET",
    "FlowPrior",
    "GaussianCondition",
    "GaussianPrior",
    "ImageDAEPrior",
    "JointPrior",
    "MALASampler",
    "NoiseConditionalPrior",
    "NoPrior",
    "PRESETS",
    "Preset",
    "Prior",
    "SampleOutput",
    "SamplerConfig",
    "SumCondition",
    "get_preset",
]
