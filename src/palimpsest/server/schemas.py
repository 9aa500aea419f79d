"""Pydantic models of the HTTP API: request bodies and the JSON shapes of responses.

Response shapes are those of :mod:`palimpsest.wire` (the one JSON encoding of each value
type); these models describe them in the OpenAPI document.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

JSONValue = Any


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- responses -------------------------------------------------------------------------------
class CommitOut(BaseModel):
    id: str
    short_id: str
    parents: list[str]
    author: str
    message: str
    timestamp: str
    metadata: dict[str, JSONValue]
    stats: dict[str, int]
    state_hash: str
    seq: int
    line: int


class EntityOut(BaseModel):
    id: str
    type: str
    props: dict[str, JSONValue]
    valid_from: str | None = None
    valid_to: str | None = None


class RelationOut(BaseModel):
    id: str
    type: str
    source: str
    target: str
    props: dict[str, JSONValue]
    valid_from: str | None = None
    valid_to: str | None = None


class DocumentOut(BaseModel):
    collection: str
    key: str
    value: JSONValue


class PropertyChange(BaseModel):
    old: JSONValue
    new: JSONValue


class ChangeOut(BaseModel):
    kind: Literal["created", "modified", "deleted"]
    element: Literal["entity", "relation", "document", "kv"]
    id: str
    collection: str | None
    old: JSONValue
    new: JSONValue
    properties: dict[str, PropertyChange]
    provenance: dict[str, JSONValue] | None = Field(
        None, description="where the value came from (docs/provenance.md)")


class DiffOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: str | None = Field(alias="from")
    to: str | None
    from_commit: CommitOut | None = None
    to_commit: CommitOut | None = None
    stats: dict[str, int]
    changes: list[ChangeOut]
    collection_presence: dict[str, tuple[bool, bool]] = {}
    next: str | None = None
    """For a page (``limit``): the ``after`` of the following page; null on the last."""


class VersionOut(BaseModel):
    commit: CommitOut
    kind: Literal["created", "modified", "deleted"]
    value: JSONValue
    origin: str | None
    element: Literal["entity", "relation", "document", "kv"] | None = None
    id: str | None = None
    provenance: dict[str, JSONValue] | None = Field(
        None, description="where the value came from (docs/provenance.md)")


class BlameOut(BaseModel):
    property: str
    value: JSONValue
    commit: CommitOut
    origin: str | None
    relation: str | None = None
    provenance: dict[str, JSONValue] | None = Field(
        None, description="where the value came from (docs/provenance.md)")


class BranchOut(BaseModel):
    name: str
    head: CommitOut | None
    current: bool
    ahead: int | None
    behind: int | None
    protected: bool = False


class TagOut(BaseModel):
    name: str
    commit: CommitOut
    message: str | None
    author: str | None
    timestamp: str | None


class ConflictOut(BaseModel):
    element: str
    id: str
    collection: str | None
    property: str | None
    base: JSONValue
    ours: JSONValue
    theirs: JSONValue
    reason: str


class ViolationOut(BaseModel):
    element: str
    id: str
    path: str = Field(description="JSON Pointer into the element's value; \"\" is the whole")
    rule: str = Field(description="a JSON Schema keyword, or source_types, target_types, "
                      "max_per_source, unique")
    message: str
    collection: str | None = None


class SchemaOut(BaseModel):
    kind: Literal["entity", "relation", "collection"]
    target: str
    json_schema: JSONValue = None
    source_types: list[str] | None = None
    target_types: list[str] | None = None
    max_per_source: int | None = None
    unique: list[str] = []


class MergeOut(BaseModel):
    status: Literal["fast_forward", "merged", "conflict", "up_to_date"]
    commit: CommitOut | None = None
    base: CommitOut | None = None
    source: CommitOut | None = None
    target: CommitOut | None = None
    conflicts: list[ConflictOut] = []
    resolved: list[ConflictOut] = []
    changes: list[ChangeOut] | None = None
    diff: dict[str, JSONValue] | None = Field(None, description="a preview's diff without its "
                                              "changes (from, to, from_commit, to_commit, "
                                              "collection_presence)")
    dry_run: bool = False
    violations: list[ViolationOut] = []


class ErrorDetail(BaseModel):
    code: str
    message: str
    model_config = ConfigDict(extra="allow")


class ErrorOut(BaseModel):
    error: ErrorDetail


class TokenOut(BaseModel):
    id: str
    user: str
    role: str
    branch_pattern: str
    created: str
    revoked: str | None
    expires: str | None = None


class NewTokenOut(TokenOut):
    token: str


class ProtectionOut(BaseModel):
    pattern: str
    mergers: list[str]


class PrincipalOut(BaseModel):
    user: str
    role: str
    branch_pattern: str
    token_id: str | None
    expires: str | None = None


class InfoOut(BaseModel):
    version: str
    current_branch: str
    auth: bool
    user: PrincipalOut
    features: list[str]


# -- requests --------------------------------------------------------------------------------
class PutEntityOp(_Model):
    op: Literal["put_entity"]
    id: str
    type: str
    props: dict[str, JSONValue] | None = None
    valid_from: str | None = None
    valid_to: str | None = None
    provenance: dict[str, JSONValue] | None = Field(
        None, description="where the fact came from, e.g. {\"source\": \"doc-17\"} (docs/provenance.md)")


class UpdateEntityOp(_Model):
    op: Literal["update_entity"]
    id: str
    props: dict[str, JSONValue] | None = None
    type: str | None = None
    valid_from: str | None = None
    valid_to: str | None = None
    provenance: dict[str, JSONValue] | None = Field(
        None, description="where the fact came from, e.g. {\"source\": \"doc-17\"} (docs/provenance.md)")


class DeleteEntityOp(_Model):
    op: Literal["delete_entity"]
    id: str
    provenance: dict[str, JSONValue] | None = Field(
        None, description="where the fact came from, e.g. {\"source\": \"doc-17\"} (docs/provenance.md)")


class PutRelationOp(_Model):
    op: Literal["put_relation"]
    id: str
    type: str
    source: str
    target: str
    props: dict[str, JSONValue] | None = None
    valid_from: str | None = None
    valid_to: str | None = None
    provenance: dict[str, JSONValue] | None = Field(
        None, description="where the fact came from, e.g. {\"source\": \"doc-17\"} (docs/provenance.md)")


class UpdateRelationOp(_Model):
    op: Literal["update_relation"]
    id: str
    props: dict[str, JSONValue] | None = None
    valid_from: str | None = None
    valid_to: str | None = None
    provenance: dict[str, JSONValue] | None = Field(
        None, description="where the fact came from, e.g. {\"source\": \"doc-17\"} (docs/provenance.md)")


class DeleteRelationOp(_Model):
    op: Literal["delete_relation"]
    id: str
    provenance: dict[str, JSONValue] | None = Field(
        None, description="where the fact came from, e.g. {\"source\": \"doc-17\"} (docs/provenance.md)")


class PutDocumentOp(_Model):
    op: Literal["put_document"]
    collection: str
    key: str
    value: JSONValue
    provenance: dict[str, JSONValue] | None = Field(
        None, description="where the fact came from, e.g. {\"source\": \"doc-17\"} (docs/provenance.md)")


class DeleteDocumentOp(_Model):
    op: Literal["delete_document"]
    collection: str
    key: str
    provenance: dict[str, JSONValue] | None = Field(
        None, description="where the fact came from, e.g. {\"source\": \"doc-17\"} (docs/provenance.md)")


class KVSetOp(_Model):
    """``tx.kv.set``: ``value`` is base64."""

    op: Literal["kv_set"]
    key: str
    value: str


class KVDeleteOp(_Model):
    op: Literal["kv_delete"]
    key: str


Operation = Annotated[
    PutEntityOp | UpdateEntityOp | DeleteEntityOp | PutRelationOp | UpdateRelationOp
    | DeleteRelationOp | PutDocumentOp | DeleteDocumentOp | KVSetOp | KVDeleteOp,
    Field(discriminator="op"),
]


class CommitOptions(_Model):
    """What every write accepts: where it goes and how the commit is described. ``author``
    is kept as ``metadata.client_author``: the commit's author is the token's user."""

    message: str | None = None
    branch: str | None = None
    author: str | None = None
    metadata: dict[str, JSONValue] | None = None
    timestamp: str | None = None


class ReadsIn(_Model):
    """What a transaction read at its base (docs/architecture.md, "Read sets"): point reads
    (found or not) and predicates. The server lands the transaction on the branch's head only
    when none of it changed since ``base``; else 409 ``concurrent_commit``."""

    entities: list[str] = []
    relations: list[str] = []
    documents: list[tuple[str, str]] = []
    kv: list[str] = []
    all: list[Literal["entity", "relation"]] = Field(
        [], description="every entity / every relation (listings and counts without a type)")
    types: list[tuple[Literal["entity", "relation", "document"], str]] = Field(
        [], description="the entities or relations of a type, the documents of a collection")
    relations_from: list[str] = []
    relations_to: list[str] = []
    kv_prefixes: list[str] = []


class TransactionIn(CommitOptions):
    ops: list[Operation]
    base: str | None = Field(None, description="the commit the transaction read (with reads; "
                                               "null: the empty state)")
    reads: ReadsIn | None = None


class RetractIn(CommitOptions):
    source: str = Field(description="the provenance source whose current facts are deleted")


class PutEntityIn(CommitOptions):
    type: str
    props: dict[str, JSONValue] | None = None
    valid_from: str | None = None
    valid_to: str | None = None
    provenance: dict[str, JSONValue] | None = Field(
        None, description="where the fact came from, e.g. {\"source\": \"doc-17\"} (docs/provenance.md)")


class UpdateEntityIn(CommitOptions):
    props: dict[str, JSONValue] | None = None
    type: str | None = None
    valid_from: str | None = None
    valid_to: str | None = None
    provenance: dict[str, JSONValue] | None = Field(
        None, description="where the fact came from, e.g. {\"source\": \"doc-17\"} (docs/provenance.md)")


class PutRelationIn(CommitOptions):
    type: str
    source: str
    target: str
    props: dict[str, JSONValue] | None = None
    valid_from: str | None = None
    valid_to: str | None = None
    provenance: dict[str, JSONValue] | None = Field(
        None, description="where the fact came from, e.g. {\"source\": \"doc-17\"} (docs/provenance.md)")


class PutDocumentIn(CommitOptions):
    value: JSONValue
    provenance: dict[str, JSONValue] | None = Field(
        None, description="where the fact came from, e.g. {\"source\": \"doc-17\"} (docs/provenance.md)")


class SetSchemaIn(CommitOptions):
    json_schema: JSONValue = None
    source_types: list[str] | None = None
    target_types: list[str] | None = None
    max_per_source: int | None = None
    unique: list[str] = []


class RollbackIn(_Model):
    ref: str
    message: str | None = None
    branch: str | None = None


class RevertIn(_Model):
    commit: str
    message: str | None = None
    branch: str | None = None


class CreateBranchIn(_Model):
    name: str
    from_: str | None = Field(default=None, alias="from")


class CheckoutIn(_Model):
    name: str


class TagIn(_Model):
    name: str
    ref: str | None = None
    message: str | None = None
    force: bool = False


class ResolutionIn(_Model):
    """How to settle one conflict: ``value`` "ours" / "theirs", or (with ``literal``) the
    value to store (null removes the property)."""

    element: Literal["entity", "relation", "document", "kv"]
    id: str
    property: str | None = None
    value: JSONValue = None
    literal: bool = False


class MergeIn(_Model):
    source: str
    into: str | None = None
    strategy: Literal["ours", "theirs"] | None = None
    message: str | None = None
    resolutions: list[ResolutionIn] | None = None
    dry_run: bool = False
    metadata: dict[str, JSONValue] | None = None


class CherryPickIn(_Model):
    commit: str
    onto: str | None = None
    strategy: Literal["ours", "theirs"] | None = None
    message: str | None = None
    resolutions: list[ResolutionIn] | None = None


class EntryOut(BaseModel):
    key: str
    value: str
    version: int
    created_at: str
    updated_at: str
    commit: str


class KVSetIn(_Model):
    """``value`` is base64; or give ``json`` (any JSON value, stored canonically)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    key: str
    value: str | None = None
    json_value: JSONValue = Field(default=None, alias="json")
    expected_version: int | None = None
    create_only: bool = False
    branch: str | None = None
    message: str | None = None
    author: str | None = None
    metadata: dict[str, JSONValue] | None = None


class KVSetManyIn(_Model):
    """``items`` maps each key to its value as base64; all are written in one commit."""

    model_config = ConfigDict(extra="forbid")

    items: dict[str, str]
    branch: str | None = None
    message: str | None = None
    author: str | None = None
    metadata: dict[str, JSONValue] | None = None


class KVOpIn(_Model):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    op: Literal["check_version", "check_exists", "check_missing", "set", "delete"]
    key: str
    version: int | None = None
    value: str | None = None
    json_value: JSONValue = Field(default=None, alias="json")


class KVTransactionIn(_Model):
    ops: list[KVOpIn]
    branch: str | None = None
    message: str | None = None
    author: str | None = None
    metadata: dict[str, JSONValue] | None = None


class QueryIn(_Model):
    target: str = Field(description="a collection name or an entity type")
    where: dict[str, JSONValue] | None = None
    select: list[str] | None = None
    order_by: JSONValue = None
    limit: int | None = Field(default=100, ge=1, le=10_000)
    offset: int = Field(default=0, ge=0)
    kind: Literal["document", "entity"] | None = None
    ref: str | None = None
    valid_at: str | None = None
    valid_between: str | None = Field(default=None, description="START/END (valid time)")


class AggregateIn(_Model):
    target: str
    aggregates: dict[str, JSONValue] | None = None
    where: dict[str, JSONValue] | None = None
    group_by: str | list[str] | None = None
    kind: Literal["document", "entity"] | None = None
    ref: str | None = None
    valid_at: str | None = None
    valid_between: str | None = Field(default=None, description="START/END (valid time)")


class TextIndexIn(_Model):
    target: str = Field(min_length=1, description="an entity type or a collection")
    fields: list[str] = Field(min_length=1, description="property names (dotted paths)")
    kind: Literal["document", "entity"] | None = None


class VectorIndexIn(_Model):
    target: str = Field(min_length=1, description="an entity type or a collection")
    property: str = Field(default="embedding", min_length=1)
    dimensions: int = Field(ge=1, le=65_536)
    metric: Literal["cosine", "l2", "dot"] = "cosine"
    kind: Literal["document", "entity"] | None = None


class SearchIn(_Model):
    query: str = Field(description='words, "quoted phrases" and prefix* (all required)')
    type: str | None = Field(default=None, description="one entity type or collection")
    kind: Literal["document", "entity"] | None = None
    where: dict[str, JSONValue] | None = None
    limit: int | None = Field(default=10, ge=0, le=10_000)
    offset: int = Field(default=0, ge=0)
    ref: str | None = None


class SimilarIn(_Model):
    vector: list[float] = Field(description="the query vector (the index's dimensions)")
    k: int = Field(default=10, ge=0, le=10_000)
    type: str | None = None
    property: str | None = None
    kind: Literal["document", "entity"] | None = None
    where: dict[str, JSONValue] | None = None
    exact: bool = False
    ref: str | None = None


class CypherIn(_Model):
    query: str = Field(description="an openCypher read query (MATCH ... RETURN ...)")
    params: dict[str, JSONValue] = Field(default_factory=dict,
                                         description="the values of $name parameters")
    ref: str | None = Field(default=None, description="where to query (default: the current "
                            "branch)")
    timeout: float | None = Field(default=None, gt=0, description="seconds, at most the "
                                  "server's max_query_seconds")


class CypherOut(BaseModel):
    columns: list[str]
    rows: list[list[dict[str, JSONValue]]] = Field(description='each value tagged: '
                                                   '{"value": json}, {"entity": ...}, '
                                                   '{"relation": ...} or {"list": [...]}')


class ExplainOut(BaseModel):
    sql: str


class SearchHitOut(BaseModel):
    kind: Literal["entity", "document"]
    element: dict[str, JSONValue]
    score: float
    highlights: dict[str, str]


class SimilarHitOut(BaseModel):
    kind: Literal["entity", "document"]
    element: dict[str, JSONValue]
    distance: float


class TokenIn(_Model):
    user: str
    role: Literal["reader", "writer", "admin"]
    branch_pattern: str = "*"
    expires: str | None = Field(None, description="when the token stops working: a duration "
                                "from now (30d, 12h, 45m, 90s, 2w) or an ISO 8601 time; "
                                "default: never")


class ProtectionIn(_Model):
    mergers: list[str] = []
