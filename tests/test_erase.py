"""Erasure (GDPR): values vanish from every version, hashes and history stay verifiable."""

from __future__ import annotations

from pathlib import Path

import pytest

import palimpsest
from palimpsest import InvalidValue, NotFound, Repository


def _alice(repo: Repository) -> list[palimpsest.Commit]:
    out = [repo.put_entity("alice", "Person", {"email": "alice@example.com", "age": 30}),
           repo.put_entity("bob", "Person", {"email": "bob@example.com"})]
    out.append(repo.update_entity("alice", {"age": 31}))
    out.append(repo.put_relation("knows", "KNOWS", "alice", "bob", {"since": 2020}))
    out.append(repo.put_document("profiles", "alice", {"bio": "likes tea"}))
    return out


@pytest.mark.needs_embedded("checks the result with fsck, which runs on the host")
def test_erase_entity_everywhere_keeps_ids_and_hashes(repo: Repository) -> None:
    commits = _alice(repo)
    repo.tag("v1")
    repo.create_branch("side")
    repo.update_entity("alice", {"age": 32}, branch="side")
    log_before = [(c.id, c.state_hash) for c in repo.log(limit=None)]
    erasure = repo.erase("alice", reason="GDPR art. 17, ticket 42", author="dpo@example.com")
    assert (erasure.element, erasure.key, erasure.rows) == ("entity", "alice", 3)
    for ref in (commits[0].id, commits[2].id, "v1", "side", "main"):
        value = repo.at(ref).entity("alice")
        assert value is not None and set(value.props) == {"@erased"}
        info = value.props["@erased"]
        assert (info["by"], info["reason"], info["erasure"]) == (
            "dpo@example.com", "GDPR art. 17, ticket 42", erasure.id)
    assert repo.at("main").entity("bob").props["email"] == "bob@example.com"
    assert repo.at("main").relation("knows").props == {"since": 2020}  # not the entity's
    # history is unchanged: same commits, same ids, same state hashes
    assert [(c.id, c.state_hash) for c in repo.log("main~1", limit=None)] == log_before
    report = repo.fsck()
    assert report.ok, report.problems
    assert report.erased_rows == 3  # two on main, one on the side branch


def test_erasure_is_in_the_audit_log(repo: Repository) -> None:
    _alice(repo)
    erasure = repo.erase("alice", reason="request", author="dpo@example.com")
    audit = repo.log(limit=1)[0]
    assert audit.id == erasure.commit
    assert audit.author == "dpo@example.com"
    assert audit.metadata["erasure"]["reason"] == "request"
    assert audit.metadata["erasure"]["key"] == "alice"
    assert audit.stats.total == 0 and audit.state_hash == repo.resolve("main~1").state_hash
    assert [e.to_dict() for e in repo.erasures()] == [erasure.to_dict()]


def test_history_blame_and_diff_see_tombstones(repo: Repository) -> None:
    commits = _alice(repo)
    repo.erase("alice", reason="request")
    versions = repo.history("alice", relations="none")
    assert [v.kind for v in versions] == ["modified", "created"]
    assert all("@erased" in v.value.props for v in versions)
    assert [v.commit.id for v in versions] == [commits[2].id, commits[0].id]
    blame = repo.blame("alice")
    assert set(blame) == {"@type", "@erased", "@relation knows"}  # the relation is a fact
    assert blame["@relation knows"].commit.id == commits[3].id
    # the versions differ by hash, so the diff still reports a change, without the values
    diff = repo.diff(commits[0].id, commits[2].id)
    change = next(c for c in diff.changes if c.id == "alice")
    assert change.kind == "modified"
    assert "alice@example.com" not in repr(diff.changes)


@pytest.mark.needs_embedded("checks the result with fsck, which runs on the host")
def test_erase_document_and_relation(repo: Repository) -> None:
    _alice(repo)
    repo.erase(("profiles", "alice"), reason="request")
    repo.erase("knows", reason="request", element="relation")
    document = repo.head().document("profiles", "alice")
    assert document is not None and set(document.value) == {"@erased"}
    relation = repo.head().relation("knows")
    assert relation is not None and relation.source == "alice" and "@erased" in relation.props
    assert repo.fsck().ok


def test_erase_rejects_bad_input_without_changes(repo: Repository) -> None:
    _alice(repo)
    count = len(repo.log(limit=None))
    with pytest.raises(NotFound):
        repo.erase("nobody", reason="request")
    with pytest.raises(InvalidValue):
        repo.erase("alice", reason="  ")
    with pytest.raises(InvalidValue):
        repo.erase("alice", reason="x", element="planet")
    assert len(repo.log(limit=None)) == count
    assert repo.head().entity("alice").props["age"] == 31


@pytest.mark.needs_embedded("checks the result with fsck, which runs on the host")
def test_rollback_past_an_erasure_keeps_state_hash(repo: Repository) -> None:
    commits = _alice(repo)
    repo.delete_entity("alice")
    repo.erase("alice", reason="request")
    rolled = repo.rollback(commits[2].id)
    assert rolled.state_hash == repo.resolve(commits[2].id).state_hash
    assert "@erased" in repo.head().entity("alice").props
    assert repo.fsck().ok


def test_erased_values_leave_the_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "gdpr.db"
    repo = palimpsest.open(path)
    secret = "very-secret-address-0123456789"
    for i in range(3):
        repo.put_entity("alice", "Person", {"address": secret, "n": i})
    repo.erase("alice", reason="request")
    repo.close()
    data = path.read_bytes()
    wal = path.with_name(path.name + "-wal")
    if wal.exists():
        data += wal.read_bytes()
    assert secret.encode() not in data


@pytest.mark.needs_embedded("exports an archive, which is written on the host")
def test_archive_round_trip_keeps_tombstones(repo: Repository, tmp_path: Path) -> None:
    _alice(repo)
    repo.erase("alice", reason="request")
    repo.export(tmp_path / "a.jsonl")
    copy = palimpsest.import_(tmp_path / "a.jsonl")
    assert copy.head().entity("alice") == repo.head().entity("alice")
    assert copy.erasures()[0].reason == "request"
    assert copy.fsck().ok
