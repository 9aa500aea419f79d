"""The HTTP server: the Repository API over HTTP/JSON with token auth, a watch stream, and
the web UI. Needs the ``server`` extra (``pip install 'palimpsest[server]'``).

``palimpsest.server.auth`` (tokens, protection) works without the extra, so the CLI can manage
tokens anywhere.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI

    from ..repository import Repository
    from .app import ServerConfig


def create_app(repo: Repository, *, no_auth: bool = False,
               config: ServerConfig | None = None) -> FastAPI:
    """The FastAPI application serving ``repo`` (API under ``/api``, web UI under ``/ui``)."""
    from .application import create_app as _create_app
    return _create_app(repo, no_auth=no_auth, config=config)


def serve(repo_url: str, *, host: str = "127.0.0.1", port: int = 8000,
          no_auth: bool = False, config: ServerConfig | None = None) -> None:
    """Run the server with uvicorn until interrupted; ``no_auth`` only on loopback."""
    from .application import serve as _serve
    _serve(repo_url, host=host, port=port, no_auth=no_auth, config=config)


def __getattr__(name: str) -> Any:
    if name == "ServerConfig":
        from .app import ServerConfig
        return ServerConfig
    raise AttributeError(name)


__all__ = ["ServerConfig", "create_app", "serve"]
