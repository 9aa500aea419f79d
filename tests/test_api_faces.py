"""Every method of the contract (``palimpsest.api``) has its CLI command and its HTTP
operation (OpenAPI ``operationId``), or a reason here why not. A new public method fails this
test until it is placed: give it a command and a route, or say why it has none."""

from __future__ import annotations

import pytest

from palimpsest import api

pytest.importorskip("fastapi")

# method -> (CLI command, operationId); a string starting with "-" is the reason for a gap.
INTERNAL = "- in-process only (see NOT_REMOTE in tests/test_contract.py)"
HOST = "- maintenance on the server's host (CLI only)"
NO_ROUTE = "- no route yet (see NOT_REMOTE in tests/test_contract.py)"
READ_CLI = "- the CLI reads with get / query / export; this read has no command of its own"
TX_CLI = "- the CLI writes one element per command (put, rm, relate, unrelate)"
TX_HTTP = "transaction"  # a transaction's writes are the ops of POST /api/transaction
NO_HELPER = "- a convenience over another method; the faces offer that one"

FACES: dict[str, tuple[str, str]] = {
    # -- Repository ---------------------------------------------------------------------
    "Repository.close": ("- a command ends by itself", "- a request ends by itself"),
    "Repository.url": ("status", "info"),
    "Repository.database": (INTERNAL, INTERNAL),
    "Repository.on_commit": (INTERNAL, INTERNAL),
    "Repository.transaction": (TX_CLI, "transaction"),
    "Repository.run_transaction": (TX_CLI, "transaction"),
    "Repository.put_entity": ("put", "put_entity"),
    "Repository.update_entity": ("put", "update_entity"),
    "Repository.delete_entity": ("rm", "delete_entity"),
    "Repository.put_relation": ("relate", "put_relation"),
    "Repository.delete_relation": ("unrelate", "delete_relation"),
    "Repository.put_document": ("put", "put_document"),
    "Repository.delete_document": ("rm", "delete_document"),
    "Repository.resolve": ("show", "commit"),
    "Repository.head": ("get", "entity"),
    "Repository.at": ("get", "entity"),
    "Repository.log": ("log", "log"),
    "Repository.commit": ("show", "commit"),
    "Repository.changes": ("show", "changes"),
    "Repository.history": ("history", "history"),
    "Repository.blame": ("blame", "blame"),
    "Repository.diff": ("diff", "diff"),
    "Repository.diff_stats": ("diff", "diff_stats"),
    "Repository.merge_base": ("- shown by merge --preview and branch (ahead/behind)",
                              "merge_base"),
    "Repository.set_schema": ("schema set", "set_schema"),
    "Repository.schema": ("schema show", "schema"),
    "Repository.schemas": ("schema list", "schemas"),
    "Repository.drop_schema": ("schema drop", "drop_schema"),
    "Repository.rollback": ("rollback", "rollback"),
    "Repository.revert": ("revert", "revert"),
    "Repository.merge": ("merge", "merge"),
    "Repository.merge_preview": ("merge", "merge_preview"),
    "Repository.cherry_pick": ("cherry-pick", "cherry_pick"),
    "Repository.combine": ("combine", "combine"),
    "Repository.current_branch": ("status", "info"),
    "Repository.create_branch": ("branch", "create_branch"),
    "Repository.branches": ("branch", "branches"),
    "Repository.delete_branch": ("branch", "delete_branch"),
    "Repository.checkout": ("checkout", "checkout"),
    "Repository.tag": ("tag", "tag"),
    "Repository.tags": ("tag", "tags"),
    "Repository.delete_tag": ("tag", "delete_tag"),
    "Repository.reflog": ("reflog", "reflog"),
    "Repository.export": ("export", HOST),
    "Repository.fsck": ("fsck", "fsck"),
    "Repository.set_retention": ("retention", "set_retention"),
    "Repository.retention": ("retention", "retention"),
    "Repository.horizon": ("retention", "horizon"),
    "Repository.gc": ("gc", HOST),
    "Repository.erase": ("erase", "erase"),
    "Repository.erase_source": ("erase", "erase_source"),  # erase --source
    "Repository.retract": ("retract", "retract"),
    "Repository.erasures": ("erase", "erasures"),
    "Repository.backup": ("backup", HOST),
    "Repository.kv": ("kv", "kv_get"),
    "Repository.watch": ("- no command yet (kv watch follows keys)", "watch"),
    "Repository.create_index": ("index create", "create_index"),
    "Repository.drop_index": ("index drop", "drop_index"),
    "Repository.indexes": ("index list", "indexes"),
    "Repository.create_view": ("view create", "create_view"),
    "Repository.drop_view": ("view drop", "drop_view"),
    "Repository.views": ("view list", "views"),
    "Repository.create_text_index": ("text-index create", "create_text_index"),
    "Repository.drop_text_index": ("text-index drop", "drop_text_index"),
    "Repository.text_indexes": ("text-index list", "text_indexes"),
    "Repository.create_vector_index": ("vector-index create", "create_vector_index"),
    "Repository.drop_vector_index": ("vector-index drop", "drop_vector_index"),
    "Repository.vector_indexes": ("vector-index list", "vector_indexes"),
    "Repository.similar_at": ("similar", "similar"),
    "Repository.sparql": ("sparql", "sparql"),
    "Repository.validate_shacl": ("shacl", "validate_shacl"),
    "Repository.refresh_views": ("view refresh", "refresh_views"),
    "Repository.copy_to": ("copy", HOST),
    **{f"Repository.{name}": (command, "- the sync_* routes are the other side of these: a "
                              "client clones the server and fetches, pulls, pushes locally")
       for name, command in (("remotes", "remote list"), ("fetch", "fetch"), ("pull", "pull"),
                             ("push", "push"))},
    # -- View ---------------------------------------------------------------------------
    "View.chain": (INTERNAL, INTERNAL),
    "View.valid_at": ("get", "entity"),  # --valid-at on reads; ?valid_at= on read routes
    "View.valid_between": ("get", "entity"),  # --valid-between; ?valid_between=START/END
    "View.valid_window": ("- what a narrowed view reads; the faces take it per command",
                          "- what a narrowed view reads; the routes take it per request"),
    "View.entity": ("get", "entity"),
    "View.get_entity": ("get", "entity"),
    "View.entities": ("query", "entities"),
    "View.count": (READ_CLI, "count"),
    "View.relation": ("get", "relation"),
    "View.relations": (READ_CLI, "relations"),
    "View.count_relations": (READ_CLI, "count"),
    "View.neighbors": (READ_CLI, "neighbors"),
    "View.document": ("get", "document"),
    "View.documents": ("query", "documents"),
    "View.collections": (READ_CLI, "collections"),
    "View.query": ("query", "query"),
    "View.aggregate": ("- no command yet", "aggregate"),
    "View.materialized": ("view show", "materialized"),
    "View.kv": ("kv get", "kv_get"),
    "View.to_dict": ("export", "to_dict"),
    "View.sparql": ("sparql", "sparql"),
    "View.search": ("search", "search"),
    "View.similar": ("similar", "similar"),
    "View.sparql_explain": ("sparql", "sparql_explain"),
    "View.cypher": ("cypher", "cypher"),
    "View.cypher_explain": ("cypher", "cypher_explain"),
    # -- Transaction: the CLI writes one element per command; HTTP sends ops -------------
    **{f"Transaction.{name}": (TX_CLI, TX_HTTP) for name in (
        "put_entity", "update_entity", "delete_entity", "put_relation", "update_relation",
        "delete_relation", "put_document", "delete_document", "put_entities", "put_relations",
        "delete_entities")},
    **{f"Transaction.{name}": ("- reads inside a transaction: Python API only",
                               "- a remote transaction reads through the View routes")
       for name in ("entity", "relation", "document", "relations", "entities", "count",
                    "count_relations", "neighbors", "documents", "query", "aggregate")},
    "Transaction.kv": ("- key-value reads and writes inside a transaction: no command yet",
                       TX_HTTP),
    "Transaction.write_raw": (INTERNAL, INTERNAL),
    "Transaction.provenance": ("- the CLI gives each write --source / --provenance",
                               "- the client sends each op's provenance record"),
    # -- KeyValue -------------------------------------------------------------------------
    "KeyValue.read_only": ("- a property of the Python object", "- a property of the "
                                                                  "Python object"),
    "KeyValue.on": ("- the --branch option of the kv commands", "- the branch parameter"),
    "KeyValue.get": ("kv get", "kv_get"),
    "KeyValue.get_json": ("kv get", "kv_get"),
    "KeyValue.exists": ("kv get", "kv_get"),
    "KeyValue.version": ("kv get", "kv_get"),
    "KeyValue.list": ("kv list", "kv_list"),
    "KeyValue.keys": ("kv list", "kv_list"),
    "KeyValue.count": ("kv list", "kv_list"),
    "KeyValue.set": ("kv set", "kv_set"),
    "KeyValue.set_json": ("kv set", "kv_set"),
    "KeyValue.set_many": ("kv set-many", "kv_set_many"),
    "KeyValue.compare_and_set": ("kv cas", "kv_set"),
    "KeyValue.create_if_not_exists": ("kv cas", "kv_set"),
    "KeyValue.delete": ("kv rm", "kv_delete"),
    "KeyValue.transaction": ("- no command yet (several checks and writes at once)",
                             "kv_transaction"),
    "KeyValue.watch": ("kv watch", "kv_watch"),
}


def _contract() -> set[str]:
    return {f"{proto.__name__}.{name}"
            for proto in (api.Repository, api.View, api.Transaction, api.KeyValue)
            for name in vars(proto) if not name.startswith("_")}


def _cli_commands() -> set[str]:
    import typer.main

    from palimpsest.cli import app

    def walk(command: object, prefix: str) -> set[str]:
        found: set[str] = set()
        for name, sub in getattr(command, "commands", {}).items():
            full = f"{prefix} {name}".strip()
            found |= {full} | walk(sub, full)
        return found

    return walk(typer.main.get_command(app), "")


def _operation_ids() -> set[str]:
    import palimpsest
    from palimpsest.server import create_app

    with palimpsest.open(":memory:") as repo:
        document = create_app(repo, no_auth=True).openapi()
    return {op["operationId"] for path in document["paths"].values() for op in path.values()}


def test_every_method_of_the_contract_is_placed() -> None:
    missing = sorted(_contract() - set(FACES))
    assert not missing, f"give these a CLI command and an HTTP operation in FACES: {missing}"
    stale = sorted(set(FACES) - _contract())
    assert not stale, f"no longer in palimpsest.api: {stale}"


def test_named_commands_and_operations_exist() -> None:
    commands, operations = _cli_commands(), _operation_ids()
    for method, (cli, http) in FACES.items():
        assert cli.startswith("- ") or cli in commands, f"{method}: no CLI command {cli!r}"
        assert http.startswith("- ") or http in operations, \
            f"{method}: no HTTP operation {http!r}"


def test_gaps_say_why() -> None:
    for method, faces in FACES.items():
        for face in faces:
            assert not face.startswith("-") or len(face) > 10, f"{method}: say why"
