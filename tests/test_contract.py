"""One contract, two implementations: the Protocols in ``palimpsest.api`` declare the public
API; the embedded classes and the HTTP client implement every method with the same
parameters (names, kinds, defaults). What is embedded-only is listed here, with the reason."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from palimpsest import api, remote
from palimpsest.models.kv import KeyValue
from palimpsest.repository import Repository
from palimpsest.transaction import Transaction
from palimpsest.view import View

PAIRS: dict[type, tuple[type, type]] = {
    api.Repository: (Repository, remote.RemoteRepository),
    api.View: (View, remote.RemoteView),
    api.Transaction: (Transaction, remote.RemoteTransaction),
    api.KeyValue: (KeyValue, remote.RemoteKV),
}

# What the HTTP client does not offer, and why. Keep it short.
NOT_REMOTE: dict[str, str] = {
    # in-process by nature
    "Repository.database": "the storage handle: a connection in this process",
    "Repository.on_commit": "a callback in this process; remote code follows commits by watch()",
    "View.chain": "storage coordinates (line, seq) of this process's database",
    "Transaction.write_raw": "queues a prepared storage row; rows are not part of the wire",
    # files and maintenance on the server's machine: run them there (CLI), not over HTTP
    "Repository.gc": "deletes history for good and may VACUUM: an operator's job on the host",
    "Repository.backup": "writes a file on the server's disk",
    "Repository.copy_to": "writes another database reachable from the server",
    "Repository.export": "writes a file on the server's disk",
    "Repository.fsck": "reads the whole database; the admin route POST /api/fsck covers it",
    # sync: a repository in this process syncs with another; a server is the other side
    **{f"Repository.{name}": "syncs the repository of this process with another one; a "
       "client syncs with a server by cloning it (the sync_* routes are the other side)"
       for name in ("remotes", "fetch", "pull", "push")},
}

# Public names of the embedded classes that are plumbing between palimpsest's own layers
# (ruff's SLF001 made them public), not part of the user-facing contract.
PLUMBING: dict[str, str] = {
    "Repository.commit_by_seq": "the server's watch routes resolve SSE resume ids",
    "Repository.commit_follower": "the server's watch routes follow a branch",
    "Repository.kv_chain": "repo.kv reads a branch's state",
    "Repository.kv_commit": "repo.kv commits its writes",
    "Repository.kv_watch": "repo.kv.watch follows a branch",
    **{f"Transaction.{name}": "tx.kv, merge and restore work inside one transaction"
       for name in ("assume_read", "base_rows", "chain", "check_open", "database",
                    "own_writes", "pending", "reads", "row")},
    "Transaction.start_at": "the server runs a remote transaction from the client's base",
}

# Implemented on both sides, with parameters that differ on purpose.
SIGNATURE_DIFFERS: dict[str, str] = {
    "Repository.watch": "a server-sent event stream: resumed by event id (last_event_id), "
                        "bounded by limit; the embedded Watch polls (since, interval)",
    "KeyValue.watch": "a server-sent event stream (limit); the embedded watch polls (interval)",
}


def _members(proto: type) -> list[str]:
    return sorted(n for n in vars(proto) if not n.startswith("_"))


def _shape(obj: Any) -> Any:
    """What must agree: parameter names, kinds and defaults (annotations may name the
    remote classes), or "property"."""
    if isinstance(obj, property):
        return "property"
    if isinstance(obj, staticmethod):
        obj = obj.__func__
    params = list(inspect.signature(obj).parameters.values())
    if params and params[0].name == "self":
        params = params[1:]
    return [(p.name, p.kind.name, p.default) for p in params]


CASES = [(proto, side, name) for proto in PAIRS for side in (0, 1) for name in _members(proto)]


@pytest.mark.parametrize(("proto", "side", "name"), CASES,
                         ids=[f"{p.__name__}.{n}-{'remote' if s else 'embedded'}"
                              for p, s, n in CASES])
def test_implements_the_contract(proto: type, side: int, name: str) -> None:
    key = f"{proto.__name__}.{name}"
    cls = PAIRS[proto][side]
    if side == 1 and key in NOT_REMOTE:
        assert inspect.getattr_static(cls, name, None) is None, \
            f"{key} is remote now: take it off NOT_REMOTE"
        return
    found = inspect.getattr_static(cls, name, None)
    assert found is not None, f"{cls.__name__} lacks {name}"
    if side == 1 and key in SIGNATURE_DIFFERS:
        return
    assert _shape(found) == _shape(vars(proto)[name]), \
        f"{cls.__name__}.{name} differs from api.{key}"


@pytest.mark.parametrize("proto", list(PAIRS), ids=lambda p: p.__name__)
def test_the_contract_covers_the_embedded_api(proto: type) -> None:
    embedded = PAIRS[proto][0]
    public = {n for n in dir(embedded) if not n.startswith("_")}
    plumbing = {key.split(".")[1] for key in PLUMBING if key.startswith(f"{proto.__name__}.")}
    extra = public - set(_members(proto)) - plumbing - {
        "check_version", "check_exists", "check_missing", "op_set", "op_delete"}
    assert not extra, f"declare these in api.{proto.__name__}: {sorted(extra)}"


def test_allow_lists_name_real_methods() -> None:
    for key in [*NOT_REMOTE, *SIGNATURE_DIFFERS]:
        proto, name = key.split(".")
        assert name in _members(getattr(api, proto)), key
