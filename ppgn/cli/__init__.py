"""The command line (``ppgn ...``): parse, make one library call, write. See ``app.py``."""

from .app import app, main

__all__ = ["app", "main"]
