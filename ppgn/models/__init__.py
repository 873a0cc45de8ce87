"""Networks: the encoder/classifier E/C, the generator G and discriminator D, the DAE on h, the evaluator."""

from .classifier import Classifier, ClassifierConfig
from .dae import CodeDAE, CodeDAEConfig, ImageDAE, ImageDAEConfig
from .evaluator import Evaluator, EvaluatorConfig
from .generator import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig
from .io import WeightsError, load_model, read_card, save_model

__all__ = [
    "Classifier",
    "ClassifierConfig",
    "CodeDAE",
    "CodeDAEConfig",
    "Discriminator",
    "DiscriminatorConfig",
    "Evaluator",
    "EvaluatorConfig",
    "Generator",
    "ImageDAE",
    "ImageDAEConfig",
    "GeneratorConfig",
    "WeightsError",
    "load_model",
    "read_card",
    "save_model",
]

from .captioner import Captioner, CaptionerConfig  # noqa: E402  (registers itself with load_model)

__all__ += ["Captioner", "CaptionerConfig"]
