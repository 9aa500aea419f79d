"""The JSON Lines archive: a repository's full history as text, and back.

The archive holds the raw history — lines, commits, rows (values with their hashes), refs, the
reflog — so an import reproduces every commit id and state hash exactly; the import verifies both
before it returns. The derived ``superseded`` column is not exported; it is rebuilt.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

import orjson

from ..codec import commit_id, content_hash, decode, element_term, state_combine
from ..errors import CorruptObject, InvalidValue
from ..storage.base import Database
from ..storage.schema import SCHEMA_VERSION, rebuild_superseded
from .commits import CommitStore
from .elements import is_erased
from .log import walk
from .refs import RefStore

FORMAT = "palimpsest-archive"
VERSION = 1


def _records(db: Database, commits: CommitStore, refs: RefStore, ref: Any) -> Iterator[Any]:
    yield {"t": "header", "format": FORMAT, "version": VERSION, "schema": SCHEMA_VERSION}
    if ref is None:
        bounds: dict[int, int] | None = None
        seqs = None
        current = refs.current()
    else:
        head = refs.resolve(ref)
        if head is None:
            raise InvalidValue(f"{ref!r} has no commits to export")
        seqs = {c.seq for c in walk(commits, [head])}
        found: dict[int, int] = {}
        for seq in seqs:
            commit = commits.by_seq(seq)
            for line, bound in commits.chain(commit.line, commit.seq):
                found[line] = max(found.get(line, 0), bound)
        bounds = found
        current = ref if isinstance(ref, str) and refs.has_branch(ref) else "main"
    for line, parent, fork, head_seq in db.all("SELECT id, parent, fork_seq, head_seq FROM lines "
                                               "ORDER BY id"):
        if bounds is None or line in bounds:
            capped = head_seq if bounds is None or head_seq is None else \
                min(head_seq, bounds[line])
            yield {"t": "line", "id": line, "parent": parent, "fork_seq": fork,
                   "head_seq": capped}
    for row in db.iterate("SELECT seq, id, line, parents, author, message, time_us, metadata, "
                          "stats, state_hash FROM commits ORDER BY seq"):
        seq, cid, line, parents, author, message, time_us, metadata, stats, state = row
        if seqs is not None and seq not in seqs:
            continue
        yield {"t": "commit", "seq": seq, "id": cid, "line": line, "parents": decode(parents),
               "author": author, "message": message, "time_us": time_us,
               "metadata": decode(metadata), "stats": decode(stats),
               "state_hash": bytes(state).hex()}
    for row in db.iterate("SELECT kind, key, line, seq, op, type, source, target, value, hash, "
                          "origin FROM rows ORDER BY seq, rid"):
        kind, key, line, seq, op, type_, source, target, value, hash_, origin = row
        if bounds is not None and seq > bounds.get(line, 0):
            continue
        yield {"t": "row", "kind": kind, "key": key, "line": line, "seq": seq, "op": op,
               "type": type_, "source": source, "target": target, "value": value,
               "hash": bytes(hash_).hex() if hash_ is not None else None, "origin": origin}
    for name, kind, line, commit_seq, message, author, time_us in db.all(
            "SELECT name, kind, line, commit_seq, message, author, time_us FROM refs "
            "ORDER BY name"):
        if bounds is not None:
            if kind == "branch":
                continue
            if commit_seq not in (seqs or set()):
                continue
        yield {"t": "ref", "name": name, "kind": kind, "line": line, "commit_seq": commit_seq,
               "message": message, "author": author, "time_us": time_us}
    if bounds is not None:
        assert ref is not None
        head = refs.resolve(ref)
        assert head is not None
        yield {"t": "ref", "name": current, "kind": "branch", "line": head.line,
               "commit_seq": None, "message": None, "author": None, "time_us": None}
        yield {"t": "line-head", "id": head.line, "head_seq": head.seq}
    else:
        for name, old, new, time_us, author, message in db.all(
                "SELECT name, old_seq, new_seq, time_us, author, message FROM reflog "
                "ORDER BY id"):
            yield {"t": "reflog", "name": name, "old_seq": old, "new_seq": new,
                   "time_us": time_us, "author": author, "message": message}
        for pattern, keep_us, keep_commits, author, time_us in db.all(
                "SELECT pattern, keep_us, keep_commits, author, time_us FROM retention"):
            yield {"t": "retention", "pattern": pattern, "keep_us": keep_us,
                   "keep_commits": keep_commits, "author": author, "time_us": time_us}
    yield from _maintenance_records(db, bounds)
    yield {"t": "meta", "head": current}


def _maintenance_records(db: Database, bounds: dict[int, int] | None) -> Iterator[Any]:
    """Pruned ranges (gc) and erasure records, without which the rows gc removed and the
    tombstones of erased values would not verify after an import."""
    for line, lo, hi, horizon, time_us in db.all(
            "SELECT line, lo_seq, hi_seq, horizon, time_us FROM pruned ORDER BY line, lo_seq"):
        if bounds is None or line in bounds:
            yield {"t": "pruned", "line": line, "lo_seq": lo, "hi_seq": hi, "horizon": horizon,
                   "time_us": time_us}
    for number, kind, key, reason, author, time_us, count, seq in db.all(
            "SELECT id, kind, key, reason, author, time_us, row_count, commit_seq FROM erasures "
            "ORDER BY id"):
        yield {"t": "erasure", "id": number, "kind": kind, "key": key, "reason": reason,
               "author": author, "time_us": time_us, "row_count": count, "commit_seq": seq}


def export_archive(db: Database, commits: CommitStore, refs: RefStore, path: str,
                   ref: Any = None) -> int:
    count = 0
    with open(path, "wb") as out, db.read():
        for record in _records(db, commits, refs, ref):
            out.write(orjson.dumps(record) + b"\n")
            count += 1
    return count


def _read(stream: IO[bytes]) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, line in enumerate(stream, 1):
        if line.strip():
            try:
                yield number, orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise InvalidValue(f"archive line {number}: not JSON ({exc})") from exc


def import_archive(db: Database, path: str) -> int:
    """Load an archive into an empty repository; verifies hashes and commit ids."""
    if db.one("SELECT 1 FROM commits LIMIT 1"):
        raise InvalidValue("import needs an empty repository; this one already has commits")
    count = 0
    with db.write(), open(path, "rb") as stream:
        db.run("DELETE FROM refs")
        db.run("DELETE FROM lines")
        for number, record in _read(stream):
            count += 1
            kind = record.get("t")
            if number == 1:
                if kind != "header" or record.get("format") != FORMAT:
                    raise InvalidValue(f"{path} is not a palimpsest archive")
                if record.get("version", 0) > VERSION:
                    raise InvalidValue(f"{path} was written by a newer palimpsest")
                continue
            _load(db, kind, record, number)
        rebuild_superseded(db)
        _verify(db)
    return count


def _load(db: Database, kind: Any, r: dict[str, Any], number: int) -> None:
    if kind == "line":
        db.run("INSERT INTO lines (id, parent, fork_seq, head_seq) VALUES (?, ?, ?, ?)",
               (r["id"], r["parent"], r["fork_seq"], r["head_seq"]))
    elif kind == "line-head":
        db.run("UPDATE lines SET head_seq = ? WHERE id = ?", (r["head_seq"], r["id"]))
    elif kind == "commit":
        db.run("INSERT INTO commits (seq, id, line, parents, author, message, time_us, metadata, "
               "stats, state_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
               (r["seq"], r["id"], r["line"], orjson.dumps(r["parents"]).decode(), r["author"],
                r["message"], r["time_us"],
                orjson.dumps(r["metadata"], option=orjson.OPT_SORT_KEYS).decode(),
                orjson.dumps(r["stats"], option=orjson.OPT_SORT_KEYS).decode(),
                bytes.fromhex(r["state_hash"])))
    elif kind == "row":
        hash_ = bytes.fromhex(r["hash"]) if r["hash"] else None
        if r["op"] == 1 and not is_erased(r["value"]) and hash_ != content_hash(
                r["kind"], r["type"], r["source"], r["target"], r["value"]):
            raise CorruptObject(f"archive line {number}: value of {r['key']!r} does not match "
                                "its hash")
        db.run("INSERT INTO rows (kind, key, line, seq, op, type, source, target, value, hash, "
               "origin) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
               (r["kind"], r["key"], r["line"], r["seq"], r["op"], r["type"], r["source"],
                r["target"], r["value"], hash_, r["origin"]))
    elif kind == "ref":
        db.run("INSERT INTO refs (name, kind, line, commit_seq, message, author, time_us) "
               "VALUES (?, ?, ?, ?, ?, ?, ?)", (r["name"], r["kind"], r["line"],
                                                r["commit_seq"], r["message"], r["author"],
                                                r["time_us"]))
    elif kind == "reflog":
        db.run("INSERT INTO reflog (name, old_seq, new_seq, time_us, author, message) "
               "VALUES (?, ?, ?, ?, ?, ?)", (r["name"], r["old_seq"], r["new_seq"],
                                             r["time_us"], r["author"], r["message"]))
    elif kind == "meta":
        db.run("UPDATE meta SET value = ? WHERE name = 'head'", (r["head"],))
    elif kind == "pruned":
        db.run("INSERT INTO pruned (line, lo_seq, hi_seq, horizon, time_us) VALUES "
               "(?, ?, ?, ?, ?)", (r["line"], r["lo_seq"], r["hi_seq"], r["horizon"],
                                   r["time_us"]))
    elif kind == "erasure":
        db.run("INSERT INTO erasures (id, kind, key, reason, author, time_us, row_count, "
               "commit_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
               (r["id"], r["kind"], r["key"], r["reason"], r["author"], r["time_us"],
                r["row_count"], r["commit_seq"]))
    elif kind == "retention":
        db.run("INSERT INTO retention (pattern, keep_us, keep_commits, author, time_us) "
               "VALUES (?, ?, ?, ?, ?)", (r["pattern"], r["keep_us"], r["keep_commits"],
                                          r["author"], r["time_us"]))
    else:
        raise InvalidValue(f"archive line {number}: unknown record type {kind!r}")


def _verify(db: Database) -> None:
    """Every imported commit id must match its content; state hashes are checked by fsck."""
    for seq, cid, parents, author, message, time_us, metadata, state in db.iterate(
            "SELECT seq, id, parents, author, message, time_us, metadata, state_hash "
            "FROM commits"):
        expected = commit_id(decode(parents), bytes(state), author, message, time_us,
                             decode(metadata))
        if expected != cid:
            raise CorruptObject(f"archive commit {cid[:12]} (seq {seq}) does not match its "
                                "content")


__all__ = ["element_term", "export_archive", "import_archive", "state_combine"]
