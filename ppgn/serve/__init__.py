"""``ppgn serve``: a local, offline web page to explore the models.

    from ppgn.serve import Settings, create_app, serve
    app = create_app(Settings(models=("fashion-mnist",)))   # a Starlette app: serve(app), or TestClient(app) in tests
    serve(app, "127.0.0.1", 7860)

The page (``static/``) picks a model, builds a condition (class, NOT class, caption, a hidden
unit, a user's network when allowed), sets the preset, the ε's, the steps, the chains and the
seed, and watches the chain run; it also inpaints a hole drawn with the mouse, and runs the
cINNs (digits by class with a temperature, colourising, style transfer). Every result can be
downloaded (the grid as PNG, the samples in the ``.npz`` contract) with the ``ppgn`` command
that reproduces it. Requests wait in a queue, one at a time per model (``jobs``), and each is
turned into library calls in ``tasks``; the HTTP side is ``app``; where it listens, ``address``.
Needs ``pip install ppgn[serve]`` (Starlette and uvicorn).
"""

from __future__ import annotations

from .address import check_address, is_loopback

__all__ = ["MAX_WORK", "Settings", "check_address", "create_app", "is_loopback", "serve"]


def __getattr__(name: str):
    """The app (Starlette, torch, the pipelines) loads on first use: the address checks stay light."""
    if name in ("MAX_WORK", "Settings", "create_app", "serve"):
        from . import app

        return getattr(app, name)
    raise AttributeError(f"module 'ppgn.serve' has no attribute {name!r}")
