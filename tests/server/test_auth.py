"""Tokens and protection rules as the CLI uses them (no HTTP involved)."""

from __future__ import annotations

import pytest

import palimpsest
from palimpsest.server import auth


def test_create_list_revoke(repo_file: palimpsest.Repository) -> None:
    token = auth.create_token(repo_file, "alice", "writer", "feature/*,exp-*")
    token_id = token.split("_")[1]
    info = auth.list_tokens(repo_file)
    assert [(t.id, t.user, t.role, t.branch_pattern, t.active) for t in info] == [
        (token_id, "alice", "writer", "feature/*,exp-*", True)]
    who = auth.authenticate(repo_file.database, token)
    assert (who.user, who.role, who.token_id) == ("alice", "writer", token_id)
    assert who.can_write("feature/a") and who.can_write("exp-1") and not who.can_write("main")
    auth.revoke_token(repo_file, token)  # the whole token works as well as its id
    assert auth.list_tokens(repo_file)[0].revoked is not None
    with pytest.raises(palimpsest.Unauthorized):
        auth.authenticate(repo_file.database, token)
    auth.revoke_token(repo_file, token_id)  # revoking twice is harmless
    with pytest.raises(palimpsest.NotFound):
        auth.revoke_token(repo_file, "000000000000")


def test_bad_input_is_refused(repo_file: palimpsest.Repository) -> None:
    with pytest.raises(palimpsest.InvalidValue):
        auth.create_token(repo_file, "alice", "owner")
    with pytest.raises(palimpsest.InvalidKey):
        auth.create_token(repo_file, "", "reader")
    with pytest.raises(palimpsest.InvalidValue):
        auth.create_token(repo_file, "alice", "reader", " , ")
    for bad in (None, "", "token", "pal_", "pal_abc", "pal_abc_def"):
        with pytest.raises(palimpsest.Unauthorized):
            auth.authenticate(repo_file.database, bad)


def test_tokens_survive_reopening_and_are_hashed(tmp_path: object) -> None:
    path = str(tmp_path) + "/t.db"  # type: ignore[operator]
    with palimpsest.open(path) as repo:
        token = auth.create_token(repo, "alice", "admin")
    with palimpsest.open(path) as repo:
        assert auth.authenticate(repo.database, token).user == "alice"
    with open(path, "rb") as handle:
        assert token.split("_", 2)[2].encode() not in handle.read()


def test_protection_decisions(repo_file: palimpsest.Repository) -> None:
    db = repo_file.database
    auth.ensure_tables(db)
    writer = auth.Principal("bob", "writer")
    admin = auth.Principal("alice", "admin")
    reader = auth.Principal("carol", "reader")
    assert auth.may_commit(db, writer, "main") and not auth.may_commit(db, reader, "main")
    auth.protect_branch(repo_file, "release/*", mergers=["bob"])
    auth.protect_branch(repo_file, "main")
    assert [p.pattern for p in auth.protections(db)] == ["main", "release/*"]
    assert not auth.may_commit(db, admin, "main")
    assert auth.may_rollback(db, admin, "main") and not auth.may_rollback(db, writer, "main")
    assert auth.may_merge(db, admin, "main") and not auth.may_merge(db, writer, "main")
    assert auth.may_merge(db, writer, "release/1") and not auth.may_merge(db, reader,
                                                                          "release/1")
    with pytest.raises(palimpsest.BranchProtected):
        auth.require_commit(db, writer, "release/1")
    auth.unprotect_branch(repo_file, "main")
    assert auth.may_commit(db, writer, "main")
    with pytest.raises(palimpsest.NotFound):
        auth.unprotect_branch(repo_file, "main")
