"""ppgn: Plug & Play Generative Networks (Nguyen et al., CVPR 2017) and conditional invertible
networks (Ardizzone et al., 2019) in PyTorch.

    >>> import ppgn
    >>> pipe = ppgn.load("fashion-mnist")
    >>> pipe.sample("sneaker", num=2, seed=0, steps=5).array.shape
    (2, 28, 28, 1)

``import ppgn`` is light: torch and the networks load on first use of ``load`` and friends.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["CINNPipeline", "PPGNPipeline", "Samples", "load", "model_names", "__version__"]


def __getattr__(name: str):
    if name in __all__:
        from . import pipelines

        return getattr(pipelines, name)
    raise AttributeError(f"module 'ppgn' has no attribute {name!r}")
