"""A remote transaction's read set, from its wire form (``schemas.ReadsIn``) into the embedded
:class:`~palimpsest.transaction.Transaction` that runs it, so it is checked like an embedded
one (docs/architecture.md, "Read sets"): the transaction starts at the client's base commit,
its point reads and predicates join the read set, and the commit lands on the branch's head
only when nothing it read or wrote changed since (else ``ConcurrentCommit``, 409)."""

from __future__ import annotations

from ..models import kv as kvmodel
from ..repository import Repository
from ..transaction import Transaction
from ..versioning.elements import doc_key
from . import schemas

_KINDS = {"entity": "e", "relation": "r", "document": "d"}


def start_from(tx: Transaction, repo: Repository, base: str | None,
               reads: schemas.ReadsIn) -> None:
    """Base ``tx`` on commit ``base`` (None: the empty state) and record ``reads``."""
    tx.start_at(repo.commit(base) if base is not None else None)
    tx.base_rows("e", reads.entities)
    tx.base_rows("r", reads.relations)
    tx.base_rows("d", [doc_key(collection, key) for collection, key in reads.documents])
    tx.base_rows(kvmodel.KIND, [kvmodel.check_key(key) for key in reads.kv])
    for element in reads.all:
        tx.reads.kind(_KINDS[element])
    for of_type, name in reads.types:
        tx.reads.kind(_KINDS[of_type], name)
    for entity in reads.relations_from:
        tx.reads.end("source", entity)
    for entity in reads.relations_to:
        tx.reads.end("target", entity)
    for prefix in reads.kv_prefixes:
        tx.reads.range(kvmodel.KIND, *kvmodel.prefix_range(kvmodel.check_prefix(prefix)))
