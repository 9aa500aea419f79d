"""The ``palimpsest`` command line, one module per command group (see ``commands.py``)."""

from .commands import app, main

__all__ = ["app", "main"]
