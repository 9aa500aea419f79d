"""Deterministic synthetic knowledge-graph workload shared by every system.

Every system replays exactly the same base graph and the same commits, and
every measured query draws its arguments from a random stream seeded by the
figure's name, so the figures of different systems are comparable and their
answers can be cross-checked.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

Value = str | int | float | bool
Props = dict[str, Value]

ENTITY_TYPES: tuple[str, ...] = (
    "Person",
    "Organization",
    "Place",
    "Event",
    "Product",
    "Document",
    "Concept",
    "Project",
    "Dataset",
    "Software",
)
RELATION_TYPES: tuple[str, ...] = ("RELATES_TO", "PART_OF", "CITES", "OWNS", "LOCATED_IN")

# (name, kind) pool from which each entity type draws its 5-8 properties.
_PROPERTY_POOL: tuple[tuple[str, str], ...] = (
    ("label", "str"),
    ("description", "str"),
    ("code", "str"),
    ("url", "str"),
    ("rank", "int"),
    ("year", "int"),
    ("count", "int"),
    ("score", "float"),
    ("weight", "float"),
    ("active", "bool"),
    ("verified", "bool"),
)
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
# Strings are slices of this fixed pseudo-random text (same on every run and machine).
_TEXT = "".join(random.Random(0).choices(_LETTERS, k=8192))

BASE_TIME = datetime(2020, 1, 1, tzinfo=UTC)
COMMIT_INTERVAL = timedelta(minutes=1)
AUTHOR = "bench@example.com"


@dataclass(frozen=True, slots=True)
class Entity:
    """A node of the graph: id, one of ENTITY_TYPES, flat properties."""

    id: str
    type: str
    props: Props


@dataclass(frozen=True, slots=True)
class Relation:
    """A directed, typed edge between two entities."""

    id: str
    type: str
    source: str
    target: str
    props: Props


@dataclass(frozen=True, slots=True)
class CreateEntity:
    """Insert a new entity."""

    entity: Entity


@dataclass(frozen=True, slots=True)
class UpdateEntity:
    """Merge ``patch`` into an existing entity's properties."""

    id: str
    patch: Props


@dataclass(frozen=True, slots=True)
class DeleteEntity:
    """Delete an entity; ``relations`` lists the relations that go with it."""

    id: str
    relations: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CreateRelation:
    """Insert a new relation between two existing entities."""

    relation: Relation


@dataclass(frozen=True, slots=True)
class DeleteRelation:
    """Delete one relation (its endpoints stay)."""

    id: str


Mutation = CreateEntity | UpdateEntity | DeleteEntity | CreateRelation | DeleteRelation


@dataclass(frozen=True, slots=True)
class CommitSpec:
    """One commit: a few mutations, with the wall-clock time it claims."""

    index: int
    timestamp: datetime
    message: str
    author: str
    mutations: tuple[Mutation, ...]


@dataclass(frozen=True, slots=True)
class Size:
    """Scale of a run: graph size, commit count, and sampling effort."""

    name: str
    entities: int
    commits: int
    samples: int
    budget_s: float  # stop sampling one figure after this long (at least 20 samples)
    rollbacks: int  # repetitions of the rollback figure (at least 1, within budget_s)
    # Commits also create and delete relations (the history-at-scale sizes); small and full
    # keep the original mix, so their figures stay comparable with earlier runs.
    relation_mutations: bool = False


SIZES: dict[str, Size] = {
    "small": Size("small", 1_000, 1_000, 200, 1.0, 3),
    "full": Size("full", 100_000, 10_000, 1_000, 60.0, 5),
    # history at scale (issue 14): 3N relations, C commits of 5 mutations with relations
    "tiny": Size("tiny", 200, 120, 20, 0.2, 3, relation_mutations=True),
    "medium": Size("medium", 20_000, 10_000, 300, 3.0, 8, relation_mutations=True),
    "large": Size("large", 100_000, 50_000, 300, 6.0, 8, relation_mutations=True),
}


@dataclass(frozen=True, slots=True)
class Workload:
    """The base graph and the commits replayed on it."""

    size: Size
    seed: int
    entities: list[Entity]
    relations: list[Relation]
    commits: list[CommitSpec]

    @property
    def base_ids(self) -> list[str]:
        """Ids of the imported entities (the population queries draw from)."""
        return [e.id for e in self.entities]


def commit_time(index: int) -> datetime:
    """Timestamp of commit ``index``; -1 is the bulk import."""
    return BASE_TIME + COMMIT_INTERVAL * (index + 1)


def _schemas(rng: random.Random) -> dict[str, list[tuple[str, str]]]:
    """Give each entity type a fixed set of 5-8 properties, always with a name."""
    schemas: dict[str, list[tuple[str, str]]] = {}
    for t in ENTITY_TYPES:
        extra = rng.sample(_PROPERTY_POOL, rng.randint(4, 7))
        schemas[t] = [("name", "str"), *sorted(extra)]
    return schemas


def _value(rng: random.Random, kind: str) -> Value:
    # One getrandbits call per value: generating 100,000 entities must stay cheap.
    bits = rng.getrandbits(32)
    if kind == "str":
        start = bits % (len(_TEXT) - 24)
        return _TEXT[start : start + 6 + (bits >> 16) % 19]
    if kind == "int":
        return bits % 1_000_001
    if kind == "float":
        return round(bits / 2**32 * 2000.0 - 1000.0, 6)
    return bool(bits & 1)


def _props(rng: random.Random, schema: list[tuple[str, str]]) -> Props:
    return {name: _value(rng, kind) for name, kind in schema}


class _LiveSet:
    """Entities alive at the current point of generation, with O(1) pick/remove."""

    def __init__(self, ids: list[str]) -> None:
        self.items = list(ids)
        self.pos = {x: i for i, x in enumerate(self.items)}

    def add(self, x: str) -> None:
        self.pos[x] = len(self.items)
        self.items.append(x)

    def remove(self, x: str) -> None:
        i = self.pos.pop(x)
        last = self.items.pop()
        if last != x:
            self.items[i] = last
            self.pos[last] = i

    def pick(self, rng: random.Random) -> str:
        return self.items[rng.randrange(len(self.items))]


def generate(size: Size, seed: int = 42) -> Workload:
    """Build the base graph (N entities, 3N relations) and C commits of 5 mutations."""
    rng = random.Random(seed)
    schemas = _schemas(rng)
    n = size.entities
    entities: list[Entity] = []
    types: dict[str, str] = {}
    for i in range(n):
        t = ENTITY_TYPES[rng.randrange(len(ENTITY_TYPES))]
        eid = f"e{i}"
        types[eid] = t
        entities.append(Entity(eid, t, _props(rng, schemas[t])))

    relations: list[Relation] = []
    adjacency: dict[str, set[str]] = {e.id: set() for e in entities}
    endpoints: dict[str, tuple[str, str]] = {}
    for j in range(3 * n):
        a = int(rng.random() * n)
        b = int(rng.random() * (n - 1))
        b = b + 1 if b >= a else b  # no self-loops
        rid = f"r{j}"
        src, dst = f"e{a}", f"e{b}"
        rtype = RELATION_TYPES[rng.randrange(len(RELATION_TYPES))]
        relations.append(Relation(rid, rtype, src, dst, {"weight": round(rng.random(), 6)}))
        adjacency[src].add(rid)
        adjacency[dst].add(rid)
        endpoints[rid] = (src, dst)

    live = _LiveSet([e.id for e in entities])
    live_relations = _LiveSet([r.id for r in relations]) if size.relation_mutations else None
    next_id = n
    next_rid = 3 * n
    commits: list[CommitSpec] = []
    for ci in range(size.commits):
        mutations: list[Mutation] = []
        created: list[str] = []
        created_relations: list[str] = []
        for _ in range(5):
            r = rng.random()
            if live_relations is not None:
                # history-at-scale mix: 75% updates, 8% entity creations, 5% entity
                # deletions, 8% relation creations, 4% relation deletions
                if r >= 0.88:
                    if r < 0.96:
                        a = live.pick(rng)
                        b = live.pick(rng)
                        if a == b:
                            continue  # no self-loops: this commit has one mutation fewer
                        rid = f"r{next_rid}"
                        next_rid += 1
                        rtype = RELATION_TYPES[rng.randrange(len(RELATION_TYPES))]
                        rel = Relation(rid, rtype, a, b, {"weight": round(rng.random(), 6)})
                        adjacency[a].add(rid)
                        adjacency[b].add(rid)
                        endpoints[rid] = (a, b)
                        created_relations.append(rid)
                        mutations.append(CreateRelation(rel))
                    elif live_relations.items:
                        rid = live_relations.pick(rng)
                        live_relations.remove(rid)
                        src, dst = endpoints.pop(rid)
                        adjacency[src].discard(rid)
                        adjacency[dst].discard(rid)
                        mutations.append(DeleteRelation(rid))
                    continue
                r = 0.0 if r < 0.75 else (0.85 if r < 0.83 else 0.95)  # to the mix below
            if r < 0.8:
                eid = live.pick(rng)
                schema = schemas[types[eid]]
                keys = rng.sample(schema, rng.randint(1, 2))
                mutations.append(UpdateEntity(eid, {k: _value(rng, kind) for k, kind in keys}))
            elif r < 0.9:
                t = ENTITY_TYPES[rng.randrange(len(ENTITY_TYPES))]
                eid = f"e{next_id}"
                next_id += 1
                types[eid] = t
                adjacency[eid] = set()
                created.append(eid)
                mutations.append(CreateEntity(Entity(eid, t, _props(rng, schemas[t]))))
            else:
                eid = live.pick(rng)
                live.remove(eid)
                gone = sorted(adjacency.pop(eid), key=lambda x: int(x[1:]))
                for rid in gone:
                    src, dst = endpoints.pop(rid)
                    other = dst if src == eid else src
                    if other in adjacency:
                        adjacency[other].discard(rid)
                    if live_relations is not None and rid in live_relations.pos:
                        live_relations.remove(rid)
                mutations.append(DeleteEntity(eid, tuple(gone)))
        for eid in created:  # new entities become mutable from the next commit on
            live.add(eid)
        if live_relations is not None:
            for rid in created_relations:
                if rid in endpoints:  # not deleted with one of its entities meanwhile
                    live_relations.add(rid)
        commits.append(CommitSpec(ci, commit_time(ci), f"commit {ci}", AUTHOR, tuple(mutations)))
    return Workload(size, seed, entities, relations, commits)
