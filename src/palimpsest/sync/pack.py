"""Packs: the commits one repository lacks, chosen by commit id, sent as JSON Lines, verified
and laid out on the receiving side.

**Choosing** (:func:`select`, on the sending side). The receiver names commits it has
(:func:`haves`: its branch heads, tags, the heads of lines no ref points at — commits kept
from an interrupted transfer — and commits at exponentially growing distances below its
newest one). The sender walks its graph from the wanted commits by descending seq, painting
"wanted" and, from every have it knows, "common", over the edges a state needs: parents and,
for a rollback, the target its state is based on. The walk stops when every queued commit is
common, so its cost is the missing commits plus the gap down to the nearest known have, not
the history's length.

**Sending** (:func:`write_pack`). One record per commit — its content (everything its id
hashes), its *state base* (the commit whose state its rows apply to: its first parent, or a
rollback's target) — followed by its rows (values with hashes, ``origin`` as a commit id, the valid-time
interval and the provenance record itself when the row has them),
then a trailer with counts and a BLAKE2b-256 digest of every byte before it.

**Receiving** (:class:`Receiver`). Commit ids are global, lines and seqs are local, so the
receiver lays received commits out itself: a commit whose base is the last commit this transfer
appended to a line of its own continues that line; every other one starts a new line forked at
its base (a rollback's line forks at its target, which is the shape
:mod:`~palimpsest.versioning.firstparent` recognises). Each commit is written through the same
``CommitStore.write_commit`` a local commit uses (new seqs, ``superseded``, search indexes,
stats, the state hash computed from the received rows on top of the base's state) and its id
recomputed; a value whose hash differs, a state hash or id that does not follow from the
content, raises :class:`CorruptObject`. Commits are stored in chunks (each its own write
transaction, on lines no ref names, so no state anyone reads changes); the last chunk, the
trailer check and the ref updates share one transaction. A transfer cut anywhere moves no ref,
and the chunks it stored are haves of the retry, which sends only the rest.
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import orjson

from ..codec import commit_id, decode, encode, now_us
from ..errors import CorruptObject, Forbidden, InvalidValue, PalimpsestError
from ..storage.base import Database
from ..storage.schema import next_seq
from ..types import Commit
from ..versioning import provenance
from ..versioning.commits import CommitStore, id_text
from ..versioning.elements import Write, is_erased
from ..versioning.firstparent import state_base
from ..versioning.pruned import pruned_range
from .shallow import full_state

FORMAT = "palimpsest-pack"
VERSION = 1
CHUNK_COMMITS = 500
"""Commits stored per write transaction while receiving."""
CHUNK_ROWS = 50_000
"""Or fewer commits when they carry this many rows."""

_WANT, _COMMON = 1, 2


def edges(commits: CommitStore, commit: Commit) -> list[Commit]:
    """The commits a commit's content and state need: its parents and its state base."""
    out = []
    for pid in commit.parents:
        parent = commits.by_id(pid)
        if parent is not None:
            out.append(parent)
    base = state_base(commits, commit)
    if base is not None and base.id not in commit.parents:
        out.append(base)
    return out


def select(commits: CommitStore, wants: Sequence[str], haves: Iterable[str]) -> list[Commit]:
    """The commits reachable from ``wants`` (ids this side has) but not from any of ``haves``
    this side knows, oldest first (parents and bases before the commits that need them)."""
    flags: dict[int, int] = {}
    heap: list[int] = []
    wanted_only = 0  # queued commits painted "wanted" but not (yet) "common"

    def paint(commit: Commit, flag: int) -> None:
        nonlocal wanted_only
        before = flags.get(commit.seq, 0)
        after = before | flag
        if after == before:
            return
        flags[commit.seq] = after
        if before == 0:
            heapq.heappush(heap, -commit.seq)
            if after == _WANT:
                wanted_only += 1
        elif before == _WANT:
            wanted_only -= 1  # queued as wanted, now known common

    for cid in wants:
        commit = commits.by_id(cid)
        if commit is None:
            raise InvalidValue(f"commit {cid[:12]} is not in this repository")
        paint(commit, _WANT)
    for cid in haves:
        commit = commits.by_id(cid)
        if commit is not None:
            paint(commit, _COMMON)
    out: list[Commit] = []
    while heap and wanted_only:
        seq = -heapq.heappop(heap)
        flag = flags[seq]
        commit = commits.by_seq(seq)
        if flag == _WANT:
            wanted_only -= 1
            out.append(commit)
        for parent in edges(commits, commit):
            paint(parent, flag)
    out.reverse()
    return out


def haves(db: Database, *, limit: int = 256) -> list[str]:
    """Commits this repository has, for a sender to stop at: branch heads, tags, the newest
    heads of lines no ref names (an interrupted transfer's chunks, old branch positions), and
    commits ``1, 2, 4, 8, …`` seqs below the newest."""
    found: list[str] = []
    seen: set[bytes] = set()

    def add(rows: Iterable[Any]) -> None:
        for (cid,) in rows:
            if cid is not None and bytes(cid) not in seen:
                seen.add(bytes(cid))
                found.append(id_text(cid))

    add(db.all("SELECT c.id FROM refs r JOIN lines l ON l.id = r.line JOIN commits c "
               "ON c.seq = coalesce(l.head_seq, l.fork_seq) WHERE r.kind = 'branch'"))
    add(db.all("SELECT c.id FROM refs r JOIN commits c ON c.seq = r.commit_seq "
               "WHERE r.kind = 'tag'"))
    add(db.all("SELECT c.id FROM lines l JOIN commits c ON c.seq = l.head_seq WHERE NOT EXISTS "
               "(SELECT 1 FROM refs r WHERE r.line = l.id) ORDER BY l.head_seq DESC LIMIT ?",
               (limit,)))
    row = db.one("SELECT max(seq) FROM commits")
    top = int(row[0]) if row and row[0] is not None else 0
    step = 1
    while top - step + 1 > 0:
        add(db.all("SELECT id FROM commits WHERE seq <= ? ORDER BY seq DESC LIMIT 1",
                   (top - step + 1,)))
        step *= 2
    return found


# -- sending ---------------------------------------------------------------------------------
def write_pack(db: Database, commits: CommitStore, chosen: Sequence[Commit], *,
               horizon: int | None = None) -> Iterator[bytes]:
    """The pack of ``chosen`` (oldest first) as JSON Lines, ending in the trailer. With a
    ``horizon`` seq (a shallow transfer, :mod:`.shallow`), older commits go as metadata only and
    a recent commit based on one of them as a graft of its whole state."""
    digest = hashlib.blake2b(digest_size=32)
    origins: dict[int, str | None] = {}
    rows_sent = 0
    sending = {c.seq for c in chosen}

    def line(record: dict[str, Any]) -> bytes:
        data = orjson.dumps(record) + b"\n"
        digest.update(data)
        return data

    def origin_id(seq: int | None) -> str | None:
        if seq is None:
            return None
        if seq not in origins:
            found = db.one("SELECT id FROM commits WHERE seq = ?", (seq,))
            origins[seq] = id_text(found[0]) if found else None
        return origins[seq]

    yield line({"t": "pack", "format": FORMAT, "version": VERSION, "commits": len(chosen)})
    for commit in chosen:
        base = state_base(commits, commit)
        stored = db.one("SELECT time_us, stats FROM commits WHERE seq = ?", (commit.seq,))
        assert stored is not None
        record: dict[str, Any] = {
            "t": "commit", "id": commit.id, "parents": list(commit.parents),
            "base": base.id if base is not None else None, "author": commit.author,
            "message": commit.message, "time_us": int(stored[0]), "metadata": commit.metadata,
            "state_hash": commit.state_hash}
        pruned = pruned_range(db, commit) is not None
        if horizon is not None and commit.seq < horizon:
            yield line({**record, "shallow": "pruned", "stats": decode(stored[1]), "rows": 0})
            continue
        if pruned:
            raise InvalidValue(f"commit {commit.id[:12]} lies before this repository's retention "
                               "horizon (gc or a shallow clone): its state is not here to send; "
                               "send from a repository that has it, or clone with depth=")
        if horizon is not None and base is not None and base.seq < horizon and \
                base.seq in sending:
            state = list(full_state(commits, commit))
            texts = {rid: encode(rec) for rid, rec in provenance.records(
                db, [r.provenance for r in state]).items()}
            rows: Sequence[Any] = [(r.kind, r.key, r.op, r.type, r.source, r.target, r.value,
                                    r.hash, r.origin, r.valid_from, r.valid_to,
                                    texts.get(r.provenance) if r.provenance is not None
                                    else None) for r in state]
            record.update(base=None, shallow="graft")
        else:
            rows = db.all("SELECT r.kind, r.key, r.op, r.type, r.source, r.target, r.value, "
                          "r.hash, r.origin, r.valid_from, r.valid_to, p.value FROM rows r "
                          "LEFT JOIN provenance p ON p.id = r.provenance "
                          "WHERE r.line = ? AND r.seq = ? ORDER BY r.kind, r.key",
                          (commit.line, commit.seq))
        yield line({**record, "rows": len(rows)})
        for kind, key, op, type_, source, target, value, hash_, origin, lo, hi, prov in rows:
            out = {"t": "row", "kind": kind, "key": key, "op": op, "type": type_,
                   "source": source, "target": target, "value": value,
                   "hash": bytes(hash_).hex() if hash_ is not None else None,
                   "origin": origin_id(origin)}
            if lo is not None or hi is not None:  # rows without them: records as before
                out["valid_from"], out["valid_to"] = lo, hi
            if prov is not None:
                out["provenance"] = decode(prov)
            yield line(out)
        rows_sent += len(rows)
    yield orjson.dumps({"t": "end", "commits": len(chosen), "rows": rows_sent,
                        "digest": digest.hexdigest()}) + b"\n"


def lines_of(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Whole lines from a byte stream cut anywhere (an HTTP body); a last line without its
    newline is yielded as it is (the trailer check then refuses it)."""
    pending = b""
    for chunk in chunks:
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for item in complete:
            yield item + b"\n"
    if pending:
        yield pending


# -- receiving -------------------------------------------------------------------------------
Finish = Callable[[], None]


class Receiver:
    """Reads a pack into a repository (see the module doc). ``finish`` runs in the last
    transaction, after the trailer is checked: it moves the refs."""

    def __init__(self, db: Database, commits: CommitStore,
                 vet: Callable[[dict[str, Any]], None] | None = None,
                 progress: Callable[[str, int, int], None] | None = None, *,
                 shallow: bool = False) -> None:
        self.db = db
        self.shallow = shallow
        self._pruned_line: int | None = None
        self._pruned_seqs: list[int] = []
        self._horizon: int | None = None
        self.commits = commits
        self.vet = vet
        self.progress = progress
        self.total = 0
        self.tails: dict[str, int] = {}  # commit id -> the line this transfer ended with it
        self.received = 0
        self.skipped = 0
        self.rows = 0
        self.bytes = 0
        self._digest = hashlib.blake2b(digest_size=32)
        self._origins: dict[str, int | None] = {}

    def receive(self, stream: Iterable[bytes], finish: Finish | None = None) -> None:
        records = self._records(lines_of(stream))
        header = next(records, None)
        if header is None or header.get("t") != "pack" or header.get("format") != FORMAT:
            raise CorruptObject("the transfer is not a palimpsest pack (it is empty or cut "
                                "before its header); try again")
        if header.get("version") != VERSION:
            raise InvalidValue(f"the pack is version {header.get('version')}; this palimpsest "
                               f"reads version {VERSION}: upgrade the older side")
        self.total = int(header.get("commits") or 0)
        pending: dict[str, Any] | None = next(records, None)
        done = False
        while not done:
            with self.db.write():
                stored = rows = 0
                while pending is not None and pending.get("t") == "commit":
                    record, pending = pending, None
                    commit_rows: list[dict[str, Any]] = []
                    for _ in range(int(record["rows"])):
                        row = next(records, None)
                        if row is None or row.get("t") != "row":
                            raise CorruptObject(f"the pack ends inside commit "
                                                f"{str(record['id'])[:12]}; try again")
                        commit_rows.append(row)
                    self._commit(record, commit_rows)
                    if self.progress is not None:
                        self.progress("receiving", self.received + self.skipped, self.total)
                    stored += 1
                    rows += len(commit_rows)
                    pending = next(records, None)
                    if stored >= CHUNK_COMMITS or rows >= CHUNK_ROWS:
                        break
                self._record_pruned()
                if pending is None or pending.get("t") == "end":
                    self._trailer(pending)
                    if finish is not None:
                        finish()
                    done = True
                elif pending.get("t") != "commit":
                    raise CorruptObject(f"unexpected {pending.get('t')!r} record in the pack")

    def _records(self, lines: Iterable[bytes]) -> Iterator[dict[str, Any]]:
        for raw in lines:
            self.bytes += len(raw)
            if not raw.endswith(b"\n"):
                raise CorruptObject("the pack was cut short (a line without its end); try "
                                    "again: what was received whole is kept")
            try:
                record = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise CorruptObject(f"the pack holds a line that is not JSON ({exc})") from None
            if not isinstance(record, dict):
                raise CorruptObject("the pack holds a line that is not a record")
            if record.get("t") != "end":
                self._digest.update(raw)
            yield record

    def _trailer(self, record: dict[str, Any] | None) -> None:
        if record is None:
            raise CorruptObject("the pack ends without its trailer (cut short); try again: "
                                "what was received whole is kept")
        if record.get("commits") != self.received + self.skipped or \
                record.get("rows") != self.rows:
            raise CorruptObject(f"the pack announces {record.get('commits')} commits and "
                                f"{record.get('rows')} rows; {self.received + self.skipped} "
                                f"and {self.rows} arrived")
        if record.get("digest") != self._digest.hexdigest():
            raise CorruptObject("the pack's digest does not match what arrived")

    def _origin(self, cid: Any) -> int | None:
        if cid is None:
            return None
        if cid not in self._origins:
            found = self.commits.by_id(str(cid))
            self._origins[cid] = found.seq if found is not None else None
        return self._origins[cid]

    def _commit(self, r: dict[str, Any], rows: list[dict[str, Any]]) -> None:
        try:
            cid, parents, base_id = str(r["id"]), [str(p) for p in r["parents"]], r["base"]
            self.rows += len(rows)
            if self.commits.by_id(cid) is not None:
                self.skipped += 1
                return
            if self.vet is not None:
                self.vet(r)
            shallow = r.get("shallow")
            if shallow is not None and not self.shallow:
                raise CorruptObject(f"commit {cid[:12]} came without its state (a shallow "
                                    "transfer), which this transfer did not ask for")
            if shallow == "pruned":
                self._metadata_only(cid, parents, r)
                return
            if shallow not in (None, "graft") or (shallow == "graft" and base_id is not None):
                raise CorruptObject(f"commit {cid[:12]}: unknown shallow form {shallow!r}")
            for pid in parents:
                if self.commits.by_id(pid) is None:
                    raise CorruptObject(f"commit {cid[:12]} names parent {pid[:12]}, which "
                                        "neither this repository nor the pack holds")
            base = self.commits.by_id(str(base_id)) if base_id is not None else None
            if base_id is not None and base is None:
                raise CorruptObject(f"commit {cid[:12]} is based on {str(base_id)[:12]}, which "
                                    "neither this repository nor the pack holds")
            if base is not None and base.id not in parents and not parents:
                raise CorruptObject(f"commit {cid[:12]} has a base but no parents")
            writes = [self._write(cid, row) for row in rows]
            if len({(w.kind, w.key) for w in writes}) != len(writes):
                raise CorruptObject(f"commit {cid[:12]} writes one element twice")
            appended = base is not None and parents and parents[0] == base.id and \
                base.id in self.tails
            if appended:
                assert base is not None
                line = self.tails.pop(base.id)
            else:
                line = self.commits.fork_at(base)
            commit = self.commits.write_commit(
                line=line, writes=writes, parents=parents, author=str(r["author"]),
                message=str(r["message"]), metadata=dict(r["metadata"]),
                time_us=int(r["time_us"]), head_seq=base.seq if base is not None else None)
        except PalimpsestError as exc:
            if isinstance(exc, (CorruptObject, Forbidden)):
                raise
            raise CorruptObject(f"commit {str(r.get('id'))[:12]} of the pack was refused: "
                                f"{exc}") from exc
        except (KeyError, TypeError, ValueError) as exc:
            raise CorruptObject(f"a malformed commit record in the pack ({type(exc).__name__}: "
                                f"{exc})") from None
        assert commit is not None
        if commit.id != cid:
            raise CorruptObject(f"commit {cid[:12]} does not match its content: its rows on "
                                f"top of its base give state {commit.state_hash[:12]}, not "
                                f"{str(r['state_hash'])[:12]}; nothing of this chunk is kept")
        if r.get("shallow") == "graft" and self._horizon is None:
            self._horizon = commit.seq  # the oldest whole state: the pruned range's horizon
            self.db.run("UPDATE pruned SET horizon = ? WHERE horizon IS NULL AND line = ?",
                        (commit.seq, self._pruned_line))
        self.tails[cid] = line
        self.received += 1

    def _metadata_only(self, cid: str, parents: list[str], r: dict[str, Any]) -> None:
        """A commit before a shallow transfer's horizon: its id checked from its content,
        stored without rows on one line of such commits, recorded as pruned."""
        state = bytes.fromhex(str(r["state_hash"]))
        metadata = dict(r["metadata"])
        if len(state) != 32 or commit_id(parents, state, str(r["author"]), str(r["message"]),
                                         int(r["time_us"]), metadata) != cid:
            raise CorruptObject(f"commit {cid[:12]} does not match its content")
        if self._pruned_line is None:
            self._pruned_line = self.commits.new_line(None, None)
        self.db.lock(f"line:{self._pruned_line}")
        seq = next_seq(self.db)
        stats = {k: int(v) for k, v in dict(r.get("stats") or {}).items() if int(v)}
        self.db.run("INSERT INTO commits (seq, id, line, parents, author, message, time_us, "
                    "metadata, stats, state_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (seq, bytes.fromhex(cid), self._pruned_line, b"".join(
                        bytes.fromhex(p) for p in parents), str(r["author"]), str(r["message"]),
                     int(r["time_us"]), encode(metadata), encode(stats), state))
        self.db.run("UPDATE lines SET head_seq = ? WHERE id = ?", (seq, self._pruned_line))
        self._pruned_seqs.append(seq)
        self.received += 1

    def _record_pruned(self) -> None:
        """The metadata-only commits of this chunk as a pruned range (horizon: the first
        graft, set when it arrives), in the chunk's transaction."""
        if self._pruned_seqs and self._pruned_line is not None:
            self.db.run("INSERT INTO pruned (line, lo_seq, hi_seq, horizon, time_us) VALUES "
                        "(?, ?, ?, ?, ?)", (self._pruned_line, min(self._pruned_seqs),
                                           max(self._pruned_seqs), self._horizon, now_us()))
        self._pruned_seqs = []

    def _write(self, cid: str, r: dict[str, Any]) -> Write:
        kind, key, op, value = str(r["kind"]), str(r["key"]), int(r["op"]), r["value"]
        if kind not in ("e", "r", "d", "k") or op not in (0, 1):
            raise CorruptObject(f"commit {cid[:12]}: a row of {key!r} has unknown kind or op")
        sent = bytes.fromhex(r["hash"]) if r["hash"] is not None else None
        erased = sent if value is not None and is_erased(value) else None
        lo, hi = r.get("valid_from"), r.get("valid_to")
        if not all(end is None or (isinstance(end, int) and not isinstance(end, bool))
                   for end in (lo, hi)):
            raise CorruptObject(f"commit {cid[:12]}: a row of {key!r} has a malformed "
                                "valid-time interval")
        try:
            record = provenance.check(r.get("provenance"), f"provenance of {key!r}")
        except InvalidValue as exc:
            raise CorruptObject(f"commit {cid[:12]}: {exc}") from None
        write = Write(kind, key, op, r["type"], r["source"], r["target"],
                      value if op == 1 else None, self._origin(r["origin"]), erased,
                      lo if op == 1 else None, hi if op == 1 else None, record)
        if op == 1 and (value is None or write.hash != sent):
            raise CorruptObject(f"commit {cid[:12]}: the value of {key!r} does not match its "
                                "hash")
        if op == 1 and not erased:
            decode(value)  # canonical JSON text, or CorruptObject
        return write
