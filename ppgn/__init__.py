"""ppgn: Plug & Play Generative Networks (Nguyen et al., CVPR 2017) in PyTorch."""

__version__ = "0.1.0"

from .pipeline import PPGNPipeline, Samples, load

__all__ = ["PPGNPipeline", "Samples", "load", "__version__"]
