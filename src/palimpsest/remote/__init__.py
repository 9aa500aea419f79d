"""The HTTP client of ``palimpsest serve``: the Repository / View / Transaction / KeyValue
interface of the embedded API over HTTP (see :mod:`palimpsest.remote.repository`).

``repository`` holds :class:`RemoteRepository` and :func:`connect`, ``view`` the
:class:`RemoteView`, ``transaction`` the :class:`RemoteTransaction`, ``kv`` the
:class:`RemoteKV`, and ``http`` the request and error helpers they share."""

from .kv import RemoteKV
from .repository import RemoteRepository, connect
from .transaction import RemoteTransaction
from .view import RemoteView

__all__ = ["RemoteKV", "RemoteRepository", "RemoteTransaction", "RemoteView", "connect"]
