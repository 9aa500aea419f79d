"""One JSON encoding per value type (palimpsest.wire): every type round-trips exactly through
JSON text, and every public value type has an encoding."""

from __future__ import annotations

import dataclasses
import inspect
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

import palimpsest
from palimpsest import types, wire
from palimpsest.codec import canonical
from palimpsest.types import (
    BackupInfo,
    Blame,
    Branch,
    Change,
    ChangeList,
    Commit,
    CommitStats,
    Conflict,
    CopyReport,
    CypherResult,
    Diff,
    Document,
    Entity,
    Entry,
    Erasure,
    FsckReport,
    GcReport,
    IndexInfo,
    KVEvent,
    MergeResult,
    Problem,
    RefLogEntry,
    Relation,
    Remote,
    RetentionPolicy,
    Schema,
    SearchHit,
    ShaclReport,
    ShaclResult,
    SimilarHit,
    SyncReport,
    Tag,
    TextIndex,
    VectorIndex,
    Version,
    ViewInfo,
    Violation,
)

# -- strategies ------------------------------------------------------------------------------
text = st.text(max_size=12)
names = st.text(min_size=1, max_size=12)
ints = st.integers(-(2**63), 2**63 - 1)
json_scalars = st.none() | st.booleans() | ints | st.floats(allow_nan=False,
                                                             allow_infinity=False) | text
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(text, inner, max_size=3), max_leaves=8)
json_objects = st.dictionaries(text, json_values, max_size=4)
maybe_names = st.none() | names
zones = st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)),
                         timezone(timedelta(hours=-8))])
times = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                     timezones=zones)
hashes = st.text("0123456789abcdef", min_size=64, max_size=64)
counts = st.integers(0, 2**31)

stats = st.builds(CommitStats, *[counts] * 10)
commits = st.builds(Commit, hashes, st.lists(hashes, max_size=2).map(tuple), text, text, times,
                    json_objects, stats, hashes, counts, counts)
entities = st.builds(Entity, names, names, json_objects)
relations = st.builds(Relation, names, names, names, names, json_objects)
documents = st.builds(Document, names, names, json_values)
blobs = st.binary(max_size=16)
kinds = st.sampled_from(["created", "modified", "deleted"])


@st.composite
def changes(draw: Any) -> Change:
    element, values = draw(st.sampled_from([("entity", entities), ("relation", relations),
                                            ("document", documents), ("kv", blobs)]))
    old, new = draw(st.none() | values), draw(st.none() | values)
    collection = new.collection if isinstance(new, Document) else \
        old.collection if isinstance(old, Document) else None
    return Change(draw(kinds), element, draw(names), old, new, collection)


@st.composite
def versions(draw: Any) -> Version:
    element, values = draw(st.sampled_from([("entity", entities), ("relation", relations),
                                            ("document", documents), ("kv", blobs)]))
    return Version(draw(commits), draw(kinds), draw(st.none() | values),
                   draw(st.none() | hashes), draw(st.none() | st.just(element)),
                   draw(maybe_names))


conflicts = st.builds(Conflict, st.sampled_from(["entity", "relation", "document", "kv"]),
                      names, maybe_names, json_values, json_values, json_values, maybe_names,
                      text)
presence = st.dictionaries(names, st.tuples(st.booleans(), st.booleans()), max_size=2)
diffs = st.builds(Diff, st.none() | commits, st.none() | commits,
                  st.lists(changes(), max_size=3), presence)
maybe_commits = st.none() | commits
finite = st.floats(allow_nan=False, allow_infinity=False)
violations = st.builds(Violation, st.sampled_from(["entity", "relation", "document"]), names,
                       text, names, text, maybe_names)
name_lists = st.lists(names, max_size=3)
schemas = st.builds(Schema, st.sampled_from(["entity", "relation", "collection"]), names,
                    json_values, st.none() | name_lists, st.none() | name_lists,
                    st.none() | counts, name_lists)

problems = st.builds(Problem, names, text, st.none() | counts, st.none() | counts, maybe_names)
shacl_results = st.builds(ShaclResult, names, st.none() | names, st.none() | names, names,
                          st.none() | names, st.sampled_from(["Violation", "Warning"]), text)
shacl_reports = st.builds(ShaclReport, st.booleans(), st.lists(shacl_results, max_size=3),
                          st.none() | names, st.integers(0, 10**6))
STRATEGIES: dict[type[Any], st.SearchStrategy[Any]] = {
    Entity: entities,
    Relation: relations,
    Document: documents,
    CommitStats: stats,
    Commit: commits,
    Branch: st.builds(Branch, names, maybe_commits, st.booleans(), st.none() | counts,
                      st.none() | counts),
    Tag: st.builds(Tag, names, commits, st.none() | text, st.none() | text, st.none() | times),
    RefLogEntry: st.builds(RefLogEntry, names, st.none() | hashes, st.none() | hashes, times,
                           text, text),
    Change: changes(),
    Version: versions(),
    Blame: st.builds(Blame, names, json_values, commits, st.none() | hashes, maybe_names),
    Diff: diffs,
    Conflict: conflicts,
    MergeResult: st.builds(MergeResult, st.sampled_from(["fast_forward", "merged", "conflict",
                                                         "up_to_date"]),
                           maybe_commits, st.lists(conflicts, max_size=2), maybe_commits,
                           maybe_commits, maybe_commits, st.lists(conflicts, max_size=2),
                           st.none() | diffs, st.booleans(), st.lists(violations, max_size=2)),
    Violation: violations,
    ShaclResult: shacl_results,
    ShaclReport: shacl_reports,
    Schema: schemas,
    Entry: st.builds(Entry, names, blobs, counts, times, times, hashes | st.just("")),
    TextIndex: st.builds(TextIndex, names, st.sampled_from(["entity", "document"]), names,
                         st.lists(names, min_size=1, max_size=3).map(tuple)),
    VectorIndex: st.builds(VectorIndex, names, st.sampled_from(["entity", "document"]), names,
                           names, counts, st.sampled_from(["cosine", "l2", "dot"])),
    SearchHit: st.builds(SearchHit, entities | documents, finite,
                         st.dictionaries(names, text, max_size=2)),
    SimilarHit: st.builds(SimilarHit, entities | documents, finite),
    CypherResult: st.integers(0, 3).flatmap(lambda n: st.builds(
        CypherResult, st.lists(names, min_size=n, max_size=n).map(tuple),
        st.lists(st.lists(json_values | entities | relations | st.lists(
            entities | relations | json_values, max_size=2), min_size=n, max_size=n).map(tuple),
            max_size=3).map(tuple))),
    KVEvent: st.builds(KVEvent, st.sampled_from(["created", "updated", "deleted", "resync"]),
                       names, st.none() | blobs, counts, commits, st.none() | hashes),
    IndexInfo: st.builds(IndexInfo, names, st.sampled_from(["entity", "document"]), names,
                         names),
    ViewInfo: st.builds(ViewInfo, names, st.sampled_from(["entity", "document"]), names,
                        json_objects, counts),
    Erasure: st.builds(Erasure, counts, st.sampled_from(["entity", "relation", "document"]),
                       names, st.none() | names, text, names, times, counts,
                       st.none() | hashes),
    RetentionPolicy: st.builds(RetentionPolicy, names, st.none() | counts,
                               st.none() | counts),
    BackupInfo: st.builds(BackupInfo, text, st.sampled_from(["sqlite", "archive"]), counts,
                          counts, st.booleans()),
    CopyReport: st.builds(CopyReport, text, counts, counts, counts,
                          st.dictionaries(names, st.none() | hashes, max_size=3)),
    Remote: st.builds(Remote, names, text),
    SyncReport: st.builds(SyncReport, names, st.sampled_from(["up_to_date", "updated"]), counts,
                          counts, counts, counts,
                          st.dictionaries(names, st.none() | hashes, max_size=3)),
    Problem: problems,
    FsckReport: st.builds(FsckReport, counts, counts, counts, counts, counts,
                          st.lists(text, max_size=3), st.lists(problems, max_size=3),
                          maybe_names, st.lists(names, max_size=2), st.lists(names, max_size=2)),
    GcReport: st.builds(GcReport, counts, counts, counts, counts,
                        st.dictionaries(names, st.none() | hashes, max_size=3), st.booleans(),
                        st.booleans()),
}


# -- exact equality --------------------------------------------------------------------------
def same(a: Any, b: Any) -> bool:
    """Equal, and JSON values equal as JSON (``1``, ``1.0`` and ``true`` differ), times equal
    with the same UTC offset, ``None`` never standing for a missing value. A diff's lazily
    decoded changes compare as the list they stand for."""
    a, b = (list(x) if isinstance(x, ChangeList) else x for x in (a, b))
    if type(a) is not type(b):
        return False
    if dataclasses.is_dataclass(a):
        return all(same(getattr(a, f.name), getattr(b, f.name))
                   for f in dataclasses.fields(a))
    if isinstance(a, datetime):
        return a == b and a.utcoffset() == b.utcoffset()
    if isinstance(a, tuple | list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, float | int | bool | str | bytes) or a is None:
        return canonical(a) == canonical(b) if not isinstance(a, bytes) else a == b
    return bool(a == b)


def through_text(value: Any) -> Any:
    """The value encoded, sent as JSON text (as the server and the CLI do), and decoded."""
    data = orjson.loads(orjson.dumps(wire.encode(value)))
    return wire.decode(type(value), data)


# -- tests -----------------------------------------------------------------------------------
def test_every_encoded_type_has_a_strategy() -> None:
    assert set(STRATEGIES) == set(wire.TYPES)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_every_type_round_trips_exactly(data: st.DataObject) -> None:
    for cls, strategy in STRATEGIES.items():
        value = data.draw(strategy, label=cls.__name__)
        back = through_text(value)
        assert same(back, value), (cls.__name__, value, back)
        assert back == value


def test_json_numbers_keep_their_type() -> None:
    entity = Entity("e", "T", {"a": 1, "b": 1.0, "c": True, "d": None, "e": [0.0, -0.0]})
    back = through_text(entity)
    assert same(back, entity)
    assert [type(v) for v in back.props.values()] == [int, float, bool, type(None), list]


def test_kv_bytes_travel_as_base64() -> None:
    commit = next_commit()
    entry = Entry("/k", b"\x00\xff raw", 3, commit.timestamp, commit.timestamp, commit.id)
    assert wire.encode(entry)["value"] == "AP8gcmF3"
    change = Change("modified", "kv", "/k", b"\x00", b"\xff")
    assert wire.encode(change)["old"] == "AA=="
    assert same(through_text(change), change)


def next_commit() -> Commit:
    return Commit("a" * 64, (), "ada", "m", datetime(2026, 1, 15, 10, tzinfo=UTC), {},
                  CommitStats(), "b" * 64, 1, 1)


def test_absent_values_are_null_not_missing() -> None:
    tag = Tag("v1", next_commit())
    data = wire.encode(tag)
    assert data["message"] is None and data["timestamp"] is None
    branch = wire.encode(Branch("empty", None))
    assert branch["head"] is None


def test_version_without_element_decodes_by_shape() -> None:
    for value in (Entity("e", "T"), Relation("r", "T", "a", "b"), Document("c", "k", 1),
                  b"\x01", None):
        version = Version(next_commit(), "created", value)
        assert same(through_text(version), version)


def test_repository_values_round_trip(tmp_path: Any) -> None:
    repo = palimpsest.open(str(tmp_path / "r.db"))
    repo.put_entity("a", "T", {"n": 1, "f": 1.5})
    repo.put_entity("b", "T")
    repo.put_relation("r", "L", "a", "b", {"w": True})
    repo.put_document("c", "k", {"x": [1, 2.0]})
    repo.kv.set("/k", b"\x00v")
    repo.create_branch("side")
    repo.put_entity("a", "T", {"n": 2}, branch="side")
    repo.tag("v1", message="first")
    found: list[Any] = [
        *repo.log(), *repo.changes("main"), repo.diff("main~4", "main"),
        *repo.history("a"), *repo.blame("a").values(), *repo.branches(), *repo.tags(),
        *repo.reflog(), repo.merge_preview("side"), *repo.kv.list("/"),
        repo.head().entity("a"), repo.head().relation("r"), repo.head().document("c", "k"),
    ]
    for value in found:
        assert same(through_text(value), value), value


def test_every_public_value_type_has_an_encoding() -> None:
    """A new frozen value type in types.py, or a public dataclass of the package, needs an
    encoding in palimpsest.wire (or a reason here why it has none)."""
    no_encoding = {
        "Resolved": "a merge resolution input, not a result",
        "Filter": "query input; has its own dict form (Filter.to_dict)",
        "Query": "query input",
        "Agg": "query input",
    }
    own = {obj for _, obj in inspect.getmembers(types, inspect.isclass)
           if dataclasses.is_dataclass(obj) and obj.__module__ == types.__name__}
    exported = {getattr(palimpsest, name) for name in palimpsest.__all__}
    public = {obj for obj in exported
              if inspect.isclass(obj) and dataclasses.is_dataclass(obj)
              and obj.__name__ not in no_encoding}
    missing = sorted(cls.__name__ for cls in (own | public) - set(wire.TYPES))
    assert not missing, f"add an encoding to palimpsest/wire.py for {missing}"


def test_cli_json_is_the_wire_encoding(tmp_path: Any, monkeypatch: Any) -> None:
    from typer.testing import CliRunner

    from palimpsest.cli import app
    path = str(tmp_path / "kg.db")
    repo = palimpsest.open(path)
    repo.put_entity("ada", "Person", {"n": 1})
    repo.put_entity("ada", "Person", {"n": 1.0})
    repo.kv.set("/k", b"\xff")
    repo.tag("v1")
    monkeypatch.setenv("PALIMPSEST_REPO", path)

    def cli(*args: str) -> Any:
        out = CliRunner().invoke(app, [*args, "--json"], catch_exceptions=False)
        assert out.exit_code == 0, out.stdout
        return orjson.loads(out.stdout)

    assert cli("log") == [wire.encode(c) for c in repo.log()]
    assert cli("history", "ada") == [wire.encode(v) for v in repo.history("ada")]
    assert cli("blame", "ada") == {k: wire.encode(b) for k, b in repo.blame("ada").items()}
    assert cli("diff", "HEAD~2", "HEAD") == wire.encode(repo.diff("HEAD~2", "HEAD"))
    assert cli("tag") == [wire.encode(t) for t in repo.tags()]
    assert cli("reflog") == [wire.encode(e) for e in repo.reflog()]
    assert cli("kv", "get", "/k") == wire.encode(repo.kv.get("/k"))
