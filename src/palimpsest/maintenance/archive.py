"""The JSON Lines archive: a repository's full history as text, and back.

The archive holds the raw history — lines, commits, rows (values with their hashes), refs, the
reflog — so an import reproduces every commit id and state hash exactly. The derived
``superseded`` column is not exported; it is rebuilt.

Format version 2 ends with a trailer ``{"t": "end", "records": N, "counts": {...},
"digest": "<BLAKE2b-256 of every byte before the trailer>"}``. An import trusts nothing in
the file: it checks the order of the sections, that every row belongs to a commit it has read,
that parents, lines and refs point at records it has read, every value hash and commit id (at
the line), every state hash (recomputed from the rows, as fsck does), and finally the counts
and digest of the trailer, so a truncated, reordered or edited file is refused with
:class:`CorruptObject` naming the line — all inside one write transaction, so nothing is
written. A version-1 archive (no trailer) is refused unless ``allow_legacy=True``: every check
but completeness still runs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import orjson

from ..codec import KIND_NAMES, commit_id, content_hash, decode, element_term, state_combine
from ..errors import CorruptObject, InvalidValue, PalimpsestError
from ..storage.base import Database
from ..storage.schema import rebuild_superseded, sync_sequences
from ..versioning import provenance, search_index
from ..versioning.commits import CommitStore, id_bytes, id_text, parents_bytes, parents_text
from ..versioning.elements import is_erased
from ..versioning.log import walk
from ..versioning.refs import RefStore

FORMAT = "palimpsest-archive"
VERSION = 2

ARCHIVE_SCHEMA = 2
"""The record layout an archive writes: schema 2's, with commit ids and hashes as hex text.
Schema 3 changed only how the file stores them (binary ids, room for provenance and valid
time), so archives, and their digests, stay byte-identical across it. A row with a valid-time
interval carries ``valid_from`` / ``valid_to``, a row with provenance (schema 4) its record as a
``provenance`` object; rows without them have no such fields, so an archive of a history
without either is byte-identical too."""


def _records(db: Database, commits: CommitStore, refs: RefStore, ref: Any) -> Iterator[Any]:
    yield {"t": "header", "format": FORMAT, "version": VERSION, "schema": ARCHIVE_SCHEMA}
    if ref is None:
        bounds: dict[int, int] | None = None
        seqs = None
        current = refs.current()
    else:
        head = refs.resolve(ref)
        if head is None:
            raise InvalidValue(f"{ref!r} has no commits to export")
        seqs = {c.seq for c in walk(commits, [head], state_bases=True)}
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
        yield {"t": "commit", "seq": seq, "id": id_text(cid), "line": line,
               "parents": parents_text(parents),
               "author": author, "message": message, "time_us": time_us,
               "metadata": decode(metadata), "stats": decode(stats),
               "state_hash": bytes(state).hex()}
    for row in db.iterate("SELECT r.kind, r.key, r.line, r.seq, r.op, r.type, r.source, "
                          "r.target, r.value, r.hash, r.origin, r.valid_from, r.valid_to, "
                          "p.value FROM rows r LEFT JOIN provenance p ON p.id = r.provenance "
                          "ORDER BY r.seq, r.rid"):
        (kind, key, line, seq, op, type_, source, target, value, hash_, origin, lo, hi,
         record) = row
        if bounds is not None and seq > bounds.get(line, 0):
            continue
        out = {"t": "row", "kind": kind, "key": key, "line": line, "seq": seq, "op": op,
               "type": type_, "source": source, "target": target, "value": value,
               "hash": bytes(hash_).hex() if hash_ is not None else None, "origin": origin}
        if lo is not None or hi is not None:  # rows without valid time: records as before
            out["valid_from"], out["valid_to"] = lo, hi
        if record is not None:  # only then: archives without provenance stay as they were
            out["provenance"] = decode(record)
        yield out
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
    """Write the archive to ``path``; returns the number of records (trailer excluded)."""
    count = 0
    digest = hashlib.blake2b(digest_size=32)
    counts: dict[str, int] = {}
    with open(path, "wb") as out, db.read():
        for record in _records(db, commits, refs, ref):
            line = orjson.dumps(record) + b"\n"
            digest.update(line)
            out.write(line)
            count += 1
            counts[record["t"]] = counts.get(record["t"], 0) + 1
        out.write(orjson.dumps({"t": "end", "records": count, "counts": counts,
                                "digest": digest.hexdigest()}) + b"\n")
    return count


def import_archive(db: Database, path: str, *, allow_legacy: bool = False) -> int:
    """Load an archive into an empty repository, verifying all of it (see the module doc);
    returns the number of records. Anything wrong raises and writes nothing."""
    if db.one("SELECT 1 FROM commits LIMIT 1"):
        raise InvalidValue("import needs an empty repository; this one already has commits")
    with db.write(), open(path, "rb") as stream:
        db.run("DELETE FROM refs")
        db.run("DELETE FROM lines")
        checker = _Checker(path, allow_legacy)
        for number, raw in enumerate(stream, 1):
            record = checker.feed(number, raw)
            if record is not None:
                try:
                    _load(db, record["t"], record, number)
                except PalimpsestError:
                    raise
                except (KeyError, TypeError, ValueError) as exc:
                    raise CorruptObject(f"archive line {number}: malformed {record['t']} "
                                        f"record ({type(exc).__name__}: {exc})") from None
                except Exception as exc:
                    if not any(c.__name__ == "IntegrityError" for c in type(exc).__mro__):
                        raise
                    raise CorruptObject(f"archive line {number}: a duplicate {record['t']} "
                                        f"record ({exc})") from None
        checker.finish()
        rebuild_superseded(db)
        sync_sequences(db)  # the next commit's seq lies above every copied one
        search_index.rebuild(db)  # indexes declared before the import: re-index its rows
        checker.verify_states(db)  # commit ids were checked at their lines
    return checker.records


_SECTIONS = {"header": 0, "line": 1, "commit": 2, "row": 3, "ref": 4, "reflog": 5,
             "line-head": 5, "retention": 6, "pruned": 7, "erasure": 8, "meta": 9, "end": 10}


class _Checker:
    """Follows the stream line by line: structure, references, hashes, trailer."""

    def __init__(self, path: str, allow_legacy: bool) -> None:
        self.path = path
        self.allow_legacy = allow_legacy
        self.digest = hashlib.blake2b(digest_size=32)
        self.counts: dict[str, int] = {}
        self.records = 0
        self.version = 0
        self.section = -1
        self.last = 0
        self.ended = False
        self.lines: dict[int, int] = {}  # line id -> archive line number
        self.last_line = self.last_seq = 0
        self.commits: dict[int, tuple[int, int]] = {}  # seq -> (line id, archive line number)
        self.ids: set[str] = set()
        self.refs: dict[str, int] = {}  # ref name -> archive line number
        self.branches: set[str] = set()
        self.head_line = 0
        self.row_seq = 0
        self.row_keys: set[tuple[str, str]] = set()

    def feed(self, number: int, raw: bytes) -> dict[str, Any] | None:
        self.last = number
        if self.ended:
            if raw.strip():
                raise CorruptObject(f"archive line {number}: data after the trailer")
            return None
        if not raw.strip():
            self.digest.update(raw)
            return None
        try:
            record = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            if self.records == 0:
                raise InvalidValue(f"{self.path} is not a palimpsest archive") from None
            raise CorruptObject(f"archive line {number}: not JSON ({exc}); the file is "
                                "truncated or damaged") from None
        kind = record.get("t") if isinstance(record, dict) else None
        if self.records == 0:
            self._header(record, kind)
        if kind == "end":
            self._trailer(number, record)
            return None
        self.digest.update(raw)
        self.records += 1
        if kind not in _SECTIONS:
            raise CorruptObject(f"archive line {number}: unknown record type {kind!r}")
        rank = _SECTIONS[kind]
        if rank < self.section or (kind == "header" and self.records != 1):
            raise CorruptObject(f"archive line {number}: a {kind} record after the "
                                f"{_name(self.section)} records; the archive is reordered")
        self.section = rank
        self.counts[kind] = self.counts.get(kind, 0) + 1
        try:
            self._check(number, kind, record)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise CorruptObject(f"archive line {number}: malformed {kind} record "
                                f"({type(exc).__name__}: {exc})") from None
        return None if kind == "header" else record

    def _header(self, record: Any, kind: Any) -> None:
        if kind != "header" or record.get("format") != FORMAT:
            raise InvalidValue(f"{self.path} is not a palimpsest archive")
        version = record.get("version", 0)
        if not isinstance(version, int) or version > VERSION:
            raise InvalidValue(f"{self.path} was written by a newer palimpsest")
        if version < 2 and not self.allow_legacy:
            raise InvalidValue(
                f"{self.path} is a version-{version} archive: it has no trailer, so a file cut "
                "short at a line boundary cannot be told from a complete one. Pass "
                "allow_legacy=True to import it anyway; every hash, commit id and state hash "
                "is still verified")
        self.version = version

    def _trailer(self, number: int, record: dict[str, Any]) -> None:
        where = f"archive line {number} (the trailer)"
        if record.get("records") != self.records or record.get("counts") != self.counts:
            raise CorruptObject(f"{where}: it announces {record.get('records')} records "
                                f"{record.get('counts')}, the file holds {self.records} "
                                f"{self.counts}")
        if record.get("digest") != self.digest.hexdigest():
            raise CorruptObject(f"{where}: the digest of lines 1-{number - 1} does not match; "
                                "lines were changed, reordered or lost after the export")
        self.ended = True

    def finish(self) -> None:
        if self.records == 0:
            raise CorruptObject(f"archive line {self.last + 1}: {self.path} is empty")
        if not self.ended and self.version >= 2:
            raise CorruptObject(f"archive line {self.last + 1}: the trailer is missing; the "
                                f"file ends after line {self.last} (truncated)")

    def _check(self, number: int, kind: str, r: dict[str, Any]) -> None:
        where = f"archive line {number}"
        if kind == "line":
            line, parent = int(r["id"]), r["parent"]
            if line <= self.last_line:
                raise CorruptObject(f"{where}: line {line} is out of order")
            self.last_line = line
            if parent is not None and int(parent) not in self.lines:
                raise CorruptObject(f"{where}: line {line} forks from missing line {parent}")
            self.lines[line] = number
        elif kind == "commit":
            seq, cid = int(r["seq"]), str(r["id"])
            if seq <= self.last_seq:
                raise CorruptObject(f"{where}: commit seq {seq} is out of order")
            self.last_seq = seq
            if int(r["line"]) not in self.lines:
                raise CorruptObject(f"{where}: commit {cid[:12]} is on missing line {r['line']}")
            for parent in r["parents"]:
                if parent not in self.ids:
                    raise CorruptObject(f"{where}: commit {cid[:12]} names parent "
                                        f"{str(parent)[:12]}, which is not earlier in the file")
            state = bytes.fromhex(r["state_hash"])
            if commit_id(list(r["parents"]), state, r["author"], r["message"], r["time_us"],
                         r["metadata"]) != cid:
                raise CorruptObject(f"{where}: commit {cid[:12]} (seq {seq}) does not match "
                                    "its content")
            self.commits[seq] = (int(r["line"]), number)
            self.ids.add(cid)
        elif kind == "row":
            self._row(where, r)
        elif kind == "ref":
            name = str(r["name"])
            if name in self.refs:
                raise CorruptObject(f"{where}: ref {name!r} appears twice")
            if r["kind"] == "branch":
                if int(r["line"]) not in self.lines:
                    raise CorruptObject(f"{where}: branch {name!r} points at missing line "
                                        f"{r['line']}")
                self.branches.add(name)
            elif r["kind"] == "tag":
                if r["commit_seq"] not in self.commits:
                    raise CorruptObject(f"{where}: tag {name!r} points at commit seq "
                                        f"{r['commit_seq']}, which the archive does not hold")
            else:
                raise CorruptObject(f"{where}: ref {name!r} has unknown kind {r['kind']!r}")
            self.refs[name] = number
        elif kind == "line-head":
            if self.commits.get(r["head_seq"], (None,))[0] != r["id"]:
                raise CorruptObject(f"{where}: head seq {r['head_seq']} of line {r['id']} is "
                                    "not one of its commits")
            self.head_line = number
        elif kind == "reflog":
            for seq in (r["old_seq"], r["new_seq"]):
                if seq is not None and seq not in self.commits:
                    raise CorruptObject(f"{where}: reflog entry of {r['name']!r} names missing "
                                        f"commit seq {seq}")
        elif kind == "pruned" and int(r["line"]) not in self.lines:
            raise CorruptObject(f"{where}: pruned range on missing line {r['line']}")
        elif kind == "erasure" and r["commit_seq"] is not None and \
                r["commit_seq"] not in self.commits:
            raise CorruptObject(f"{where}: erasure {r['id']} names missing commit seq "
                                f"{r['commit_seq']}")
        elif kind == "meta":
            if r["head"] not in self.branches:
                raise CorruptObject(f"{where}: HEAD names {r['head']!r}, which is not a branch "
                                    "of the archive")
            self.head_line = number

    def _row(self, where: str, r: dict[str, Any]) -> None:
        seq, kind, key = int(r["seq"]), str(r["kind"]), str(r["key"])
        if seq < self.row_seq:
            raise CorruptObject(f"{where}: row of seq {seq} after rows of seq {self.row_seq}; "
                                "the archive is reordered")
        if seq != self.row_seq:
            self.row_seq, self.row_keys = seq, set()
        if (kind, key) in self.row_keys:
            raise CorruptObject(f"{where}: {key!r} is written twice by commit seq {seq}")
        self.row_keys.add((kind, key))
        if self.commits.get(seq, (None,))[0] != r["line"]:
            raise CorruptObject(f"{where}: row of {key!r} belongs to no commit of the archive "
                                f"(seq {seq}, line {r['line']})")
        if kind not in KIND_NAMES or r["op"] not in (0, 1):
            raise CorruptObject(f"{where}: row of {key!r} has unknown kind {kind!r} or op "
                                f"{r['op']!r}")
        value = r["value"]
        hash_ = bytes.fromhex(r["hash"]) if r["hash"] else None
        if r["op"] == 1 and (value is None or (not is_erased(value) and hash_ != content_hash(
                kind, r["type"], r["source"], r["target"], value, r.get("valid_from"),
                r.get("valid_to")))):
            raise CorruptObject(f"{where}: value of {key!r} does not match its hash")

    def verify_states(self, db: Database) -> None:
        """Recompute every state hash (and the rest of fsck) from the loaded rows."""
        from .fsck import fsck

        report = fsck(db, CommitStore(db))
        if not report.details:
            return
        problem = report.details[0]
        number: int | None = None
        if problem.seq is not None and problem.seq in self.commits:
            number = self.commits[problem.seq][1]
        elif problem.check == "line" and problem.name and problem.name.isdigit():
            number = self.lines.get(int(problem.name))
        elif problem.name is not None:
            number = self.refs.get(problem.name, self.head_line or None)
        more = f" (and {len(report.details) - 1} more problems)" if len(report.details) > 1 \
            else ""
        at = f"archive line {number}" if number else "archive"
        raise CorruptObject(f"{at}: {problem.message}{more}")


def _name(rank: int) -> str:
    return next((k for k, v in _SECTIONS.items() if v == rank), "start")


def _load(db: Database, kind: Any, r: dict[str, Any], number: int) -> None:
    if kind == "line":
        db.run("INSERT INTO lines (id, parent, fork_seq, head_seq) VALUES (?, ?, ?, ?)",
               (r["id"], r["parent"], r["fork_seq"], r["head_seq"]))
    elif kind == "line-head":
        db.run("UPDATE lines SET head_seq = ? WHERE id = ?", (r["head_seq"], r["id"]))
    elif kind == "commit":
        db.run("INSERT INTO commits (seq, id, line, parents, author, message, time_us, metadata, "
               "stats, state_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
               (r["seq"], id_bytes(r["id"]), r["line"], parents_bytes(r["parents"]), r["author"],
                r["message"], r["time_us"],
                orjson.dumps(r["metadata"], option=orjson.OPT_SORT_KEYS).decode(),
                orjson.dumps(r["stats"], option=orjson.OPT_SORT_KEYS).decode(),
                bytes.fromhex(r["state_hash"])))
    elif kind == "row":
        hash_ = bytes.fromhex(r["hash"]) if r["hash"] else None
        if r["op"] == 1 and not is_erased(r["value"]) and hash_ != content_hash(
                r["kind"], r["type"], r["source"], r["target"], r["value"],
                r.get("valid_from"), r.get("valid_to")):
            raise CorruptObject(f"archive line {number}: value of {r['key']!r} does not match "
                                "its hash")
        record = r.get("provenance")
        text = provenance.check(record, f"archive line {number}: provenance")
        db.run("INSERT INTO rows (kind, key, line, seq, op, type, source, target, value, hash, "
               "origin, valid_from, valid_to, provenance) "
               "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
               (r["kind"], r["key"], r["line"], r["seq"], r["op"], r["type"], r["source"],
                r["target"], r["value"], hash_, r["origin"], r.get("valid_from"),
                r.get("valid_to"),
                provenance.intern(db, [text])[text] if text is not None else None))
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
        cid = id_text(cid)
        expected = commit_id(parents_text(parents), bytes(state), author, message, time_us,
                             decode(metadata))
        if expected != cid:
            raise CorruptObject(f"archive commit {cid[:12]} (seq {seq}) does not match its "
                                "content")


__all__ = ["element_term", "export_archive", "import_archive", "state_combine"]
