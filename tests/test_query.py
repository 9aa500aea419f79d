"""Document and entity queries: operators, dict form, projection, order, paging, errors,
aggregations, declared indexes (with their SQL plan) and materialized views."""

from __future__ import annotations

from typing import Any

import pytest

import palimpsest
from palimpsest import Agg, F, Filter, QueryError, and_, not_, or_

PEOPLE: dict[str, Any] = {
    "ann": {"name": "Ann", "age": 31, "city": "Paris", "tags": ["admin", "ops"],
            "address": {"city": "Paris", "zip": "75001"}, "active": True},
    "bob": {"name": "Bob", "age": 25, "city": "Rome", "tags": ["dev"], "active": False},
    "cid": {"name": "Cid", "age": "thirty", "city": "Paris", "score": 1.5},
    "dee": {"name": "Dee", "age": 40.5, "address": {"city": "Oslo"}, "active": 1},
    "eve": {"name": "eve", "age": None, "city": "Rome", "tags": [1, True, None]},
}


@pytest.fixture
def people(repo: palimpsest.Repository) -> palimpsest.Repository:
    with repo.transaction("people") as tx:
        for key, value in PEOPLE.items():
            tx.put_document("people", key, value)
    return repo


def keys(results: list[Any]) -> list[str]:
    return [getattr(r, "key", None) or r.id for r in results]


@pytest.mark.parametrize("where, expected", [
    (F("age") > 30, ["ann", "dee"]),
    (F("age") >= 31, ["ann", "dee"]),
    (F("age") < 31, ["bob"]),
    (F("age") <= 31, ["ann", "bob"]),
    (F("name") > "C", ["cid", "dee", "eve"]),  # code point order: "eve" > "Dee"
    (F("city") == "Paris", ["ann", "cid"]),
    (F("city") != "Paris", ["bob", "dee", "eve"]),  # missing fields are "not equal"
    (F("active") == True, ["ann"]),  # noqa: E712 - 1 is not true
    (F("active") == 1, ["dee"]),
    (F("age") == None, ["eve"]),  # noqa: E711 - explicit null only
    (F("age").exists(), ["ann", "bob", "cid", "dee", "eve"]),
    (F("score").exists(False), ["ann", "bob", "dee", "eve"]),
    (F("address.city") == "Oslo", ["dee"]),
    (F("tags").contains("ops"), ["ann"]),
    (F("tags").contains(True), ["eve"]),
    (F("tags").contains(None), ["eve"]),
    (F("name").contains("e"), ["dee", "eve"]),
    (F("name").matches("^[A-C]"), ["ann", "bob", "cid"]),
    (F("name").matches("(?i)^e"), ["eve"]),
    (F("age").in_([25, 40.5, "thirty"]), ["bob", "cid", "dee"]),
    (F("active").in_([True, False]), ["ann", "bob"]),
    ((F("city") == "Paris") & (F("age") > 0), ["ann"]),
    ((F("city") == "Oslo") | (F("address.city") == "Oslo"), ["dee"]),
    (~(F("city") == "Paris"), ["bob", "dee", "eve"]),
    (and_(), ["ann", "bob", "cid", "dee", "eve"]),
    (or_(), []),
    (not_(F("age").exists()), []),
    (F("@key") >= "cid", ["cid", "dee", "eve"]),
    (F("@key").in_(["bob", "zed"]), ["bob"]),
])
def test_operators(people: palimpsest.Repository, where: Filter, expected: list[str]) -> None:
    view = people.head()
    assert keys(view.query("people", where)) == expected
    # the dict form says the same
    assert keys(view.query("people", Filter.from_dict(where.to_dict()))) == expected


def test_dict_forms(people: palimpsest.Repository) -> None:
    view = people.head()
    assert keys(view.query("people", {"city": "Paris", "age": {"gt": 30}})) == ["ann"]
    assert keys(view.query("people", {"age": {"$gte": 25, "$lt": 31}})) == ["bob"]
    assert keys(view.query("people", {"or": [{"field": "age", "op": "eq", "value": 25},
                                             {"not": {"field": "city", "op": "exists"}}]})) \
        == ["bob", "dee"]
    assert keys(view.query("people", {"tags": {"in": [["x"]]}} if False else
                           {"field": "tags", "op": "contains", "value": "dev"})) == ["bob"]
    f = (F("a") > 1) & ~F("b").in_([1, "x"]) | F("c").matches("z")
    assert Filter.from_dict(f.to_dict()) == f


@pytest.mark.parametrize("where, message", [
    ({"field": "age", "op": "gtx", "value": 1}, "unknown operator 'gtx'"),
    ({"age": {"between": [1, 2]}}, r"where\.age: unknown operator 'between'"),
    ({"or": [{"age": 1}, {"name": {"gt": [1]}}]}, r"where\.or\[1\]\.name.*number or a string"),
    ({"name": {"matches": "(unclosed"}}, "invalid regular expression"),
    ({"age": {"in": 3}}, "needs a list"),
    ({"and": {"age": 1}}, "must be a list"),
    ({"": 1}, "non-empty"),
    ({"a..b": 1}, "empty segment"),
    ({"field": "tags", "op": "contains", "value": ["x"]}, "string, number, boolean or None"),
    ({"field": "x", "op": "exists", "value": "yes"}, "true or false"),
    ([1], "must be an object"),
])
def test_bad_filters_name_the_wrong_part(people: palimpsest.Repository, where: Any,
                                         message: str) -> None:
    with pytest.raises(QueryError, match=message):
        people.head().query("people", where)


def test_other_bad_queries(people: palimpsest.Repository) -> None:
    view = people.head()
    with pytest.raises(QueryError, match="no collection or entity type 'nobody'"):
        view.query("nobody")
    with pytest.raises(QueryError, match="no collection 'Person'"):
        view.query("Person", kind="document")
    with pytest.raises(QueryError, match="kind"):
        view.query("people", kind="table")
    with pytest.raises(QueryError, match="order_by"):
        view.query("people", order_by=[("age", "sideways", 1)])
    with pytest.raises(QueryError, match="limit"):
        view.query("people", limit=-1)
    with pytest.raises(QueryError, match="offset"):
        view.query("people", offset="2")
    with pytest.raises(QueryError, match="select"):
        view.query("people", select=["ok", ""])
    with pytest.raises(QueryError, match="combine filters"):
        bool(F("a") > 1)
    with pytest.raises(QueryError, match="combine filters"):
        _ = 1 < F("a") < 3  # type: ignore[operator]
    with pytest.raises(QueryError, match="unknown aggregate 'median'"):
        view.aggregate("people", {"m": {"op": "median", "field": "age"}})
    with pytest.raises(QueryError, match="sum: needs a field"):
        view.aggregate("people", {"s": "sum"})
    with pytest.raises(QueryError, match="also a group_by field"):
        view.aggregate("people", {"city": "count"}, group_by="city")
    people.put_entity("people", type="people")
    with pytest.raises(QueryError, match="both a collection and an entity type"):
        people.head().query("people")
    assert keys(people.head().query("people", kind="entity")) == ["people"]


def test_order_projection_and_pages(people: palimpsest.Repository) -> None:
    view = people.head()
    # missing < null < numbers < strings; ties by key
    assert keys(view.query("people", order_by="age")) == ["eve", "bob", "ann", "dee", "cid"]
    assert keys(view.query("people", order_by="-age")) == ["cid", "dee", "ann", "bob", "eve"]
    assert keys(view.query("people", order_by=["city", "-name"])) == \
        ["dee", "cid", "ann", "eve", "bob"]
    assert keys(view.query("people", order_by=[{"field": "city", "order": "desc"},
                                               ("@key", "asc")])) == \
        ["bob", "eve", "ann", "cid", "dee"]
    assert keys(view.query("people", order_by="name", limit=2, offset=1)) == ["bob", "cid"]
    assert view.query("people", offset=10) == []
    got = view.query("people", F("@key") == "ann", select=["name", "address.city", "nope"])
    assert got[0].value == {"name": "Ann", "address": {"city": "Paris"}}
    assert got[0].collection == "people" and got[0].key == "ann"


def test_entities_and_time_travel(repo: palimpsest.Repository) -> None:
    repo.put_entity("ada", type="Person", props={"born": 1815, "langs": ["en", "fr"]})
    repo.put_entity("alan", type="Person", props={"born": 1912})
    repo.put_entity("pc", type="Machine", props={"born": 1981})
    past = repo.head().commit
    repo.update_entity("alan", {"born": 1913})
    repo.delete_entity("ada")
    repo.create_branch("side", from_=past.id)
    repo.put_entity("grace", type="Person", props={"born": 1906}, branch="side")
    now = repo.head()
    assert [e.id for e in now.query("Person", F("born") > 1900)] == ["alan"]
    assert now.query("Person")[0].props == {"born": 1913}
    then = repo.at(past.id)
    assert [e.id for e in then.query("Person", F("born") < 1913, order_by="-born")] == \
        ["alan", "ada"]
    assert [e.id for e in then.query("Person", F("langs").contains("fr"))] == ["ada"]
    side = repo.at("side")
    assert [e.id for e in side.query("Person", order_by="born")] == ["ada", "grace", "alan"]
    assert [e.props for e in side.query("Person", F("@key") == "ada", select="langs")] == \
        [{"langs": ["en", "fr"]}]


def test_aggregations(people: palimpsest.Repository) -> None:
    view = people.head()
    assert view.aggregate("people") == {"count": 5}
    result = view.aggregate("people", {
        "n": Agg.count(), "with_age": Agg.count("age"), "total": Agg.sum("age"),
        "mean": Agg.avg("age"), "low": Agg.min("age"), "high": Agg.max("age"),
        "cities": Agg.distinct("city"), "ages": Agg.distinct("age"),
    })
    assert result["n"] == 5 and result["with_age"] == 4  # null is not counted
    assert result["total"] == 96.5 and result["mean"] == pytest.approx(96.5 / 3)
    assert (result["low"], result["high"]) == (25, "thirty")  # numbers sort before strings
    assert result["cities"] == ["Paris", "Rome"]
    assert result["ages"] == [None, 25, 31, 40.5, "thirty"]
    grouped = view.aggregate("people", {"n": "count", "oldest": ["max", "age"]},
                             group_by="city", where=F("name") != "Bob")
    assert grouped == [{"city": None, "n": 1, "oldest": 40.5},
                       {"city": "Paris", "n": 2, "oldest": "thirty"},
                       {"city": "Rome", "n": 1, "oldest": None}]
    by_two = view.aggregate("people", [Agg.count(), Agg.sum("score")],
                            group_by=["city", "active"])
    assert [(g["city"], g["active"], g["count"], g["sum_score"]) for g in by_two] == [
        (None, 1, 1, 0), ("Paris", None, 1, 1.5), ("Paris", True, 1, 0),
        ("Rome", None, 1, 0), ("Rome", False, 1, 0)]
    assert view.aggregate("people", {"t": Agg.distinct("tags")}) == \
        {"t": [["admin", "ops"], ["dev"], [1, True, None]]}
    assert view.aggregate("people", where=F("age") > 100) == {"count": 0}
    assert view.aggregate("people", {"s": Agg.sum("age"), "a": Agg.avg("age"),
                                      "m": Agg.min("age")}, where=F("age") > 100) == \
        {"s": 0, "a": None, "m": None}
    assert view.aggregate("people", group_by="city", where=F("age") > 100) == []


def _plan(repo: palimpsest.Repository, run: Any) -> tuple[Any, list[str]]:
    """Run a query and return its result and the SQLite plan of its main statement."""
    db = repo.database
    seen: list[tuple[str, Any]] = []
    db.tracer = lambda sql, params: seen.append((sql, params))
    try:
        result = run()
    finally:
        db.tracer = None
    if db.dialect.name != "sqlite":
        return result, []
    sql, params = next((s, p) for s, p in seen if s.startswith("SELECT r.rid"))
    return result, [str(row[-1]) for row in db.all("EXPLAIN QUERY PLAN " + sql, params)]


@pytest.mark.needs_embedded("reads the SQL plan through repo.database")
def test_declared_index_is_used_at_head_and_in_the_past(repo: palimpsest.Repository,
                                                       backend: str) -> None:
    with repo.transaction("load") as tx:
        for i in range(300):
            tx.put_document("notes", f"n{i:03}", {"author": f"a{i % 30}", "rank": i % 50})
    past = repo.head().commit
    with repo.transaction("more") as tx:
        for i in range(0, 300, 3):
            tx.put_document("notes", f"n{i:03}", {"author": "a7", "rank": 1000 + i})
    query = F("author") == "a7"
    expect_now = repo.head().query("notes", query, order_by="rank")
    expect_then = repo.at(past.id).query("notes", query, order_by="rank")
    info = repo.create_index(collection="notes", field="author")
    assert info.element == "document" and info in repo.indexes()
    assert repo.create_index(collection="notes", field="author") == info  # idempotent
    repo.create_index("Person", "email")
    assert [(i.element, i.type, i.field) for i in repo.indexes()] == \
        [("document", "notes", "author"), ("entity", "Person", "email")]
    now, plan_now = _plan(repo, lambda: repo.head().query("notes", query, order_by="rank"))
    then, plan_then = _plan(repo, lambda: repo.at(past.id).query("notes", query,
                                                                 order_by="rank"))
    assert now == expect_now and then == expect_then and len(now) > len(then) > 0
    if backend != "postgres":
        assert any(info.name in line for line in plan_now), plan_now
        assert any(info.name in line for line in plan_then), plan_then
        ranged, plan_range = _plan(repo, lambda: repo.head().query(
            "notes", (F("author") >= "a7") & (F("author") < "a8")))
        assert any(info.name in line for line in plan_range) and len(ranged) > 0
    repo.drop_index(collection="notes", field="author")
    assert repo.head().query("notes", query, order_by="rank") == expect_now
    assert [i.field for i in repo.indexes()] == ["email"]
    with pytest.raises(palimpsest.NotFound):
        repo.drop_index(collection="notes", field="author")
    with pytest.raises(palimpsest.InvalidValue):
        repo.create_index("Person", collection="notes", field="x")
    with pytest.raises(QueryError):
        repo.create_index(collection="notes", field="@key")


def test_materialized_view(repo: palimpsest.Repository) -> None:
    repo.put_document("tasks", "t1", {"state": "open", "prio": 2, "title": "one"})
    repo.put_document("tasks", "t2", {"state": "done", "prio": 1, "title": "two"})
    info = repo.create_view("open_tasks", "tasks",
                            {"where": {"state": "open"}, "select": ["title", "prio"],
                             "order_by": ["-prio"]})
    assert info.element == "document" and [v.name for v in repo.views()] == ["open_tasks"]
    c1 = repo.head().commit
    assert [d.value for d in repo.head().materialized("open_tasks")] == \
        [{"prio": 2, "title": "one"}]
    repo.put_document("tasks", "t3", {"state": "open", "prio": 5, "title": "three"})
    repo.put_document("tasks", "t1", {"state": "done", "prio": 2, "title": "one"})
    c3 = repo.head().commit
    repo.put_document("tasks", "t1", {"state": "open", "prio": 0, "title": "one again"})
    repo.delete_document("tasks", "t3")
    assert [d.key for d in repo.head().materialized("open_tasks")] == ["t1"]
    assert [d.key for d in repo.at(c3.id).materialized("open_tasks")] == ["t3"]
    assert [d.key for d in repo.at(c1.id).materialized("open_tasks")] == ["t1"]
    assert [d.key for d in repo.head().materialized("open_tasks", order_by="@key",
                                                    where=F("prio") < 1)] == ["t1"]
    # a branch forked in the past sees its own changes
    repo.create_branch("side", from_=c3.id)
    repo.put_document("tasks", "t2", {"state": "open", "prio": 9, "title": "two"},
                      branch="side")
    assert [d.key for d in repo.at("side").materialized("open_tasks")] == ["t2", "t3"]
    assert [d.key for d in repo.head().materialized("open_tasks")] == ["t1"]
    assert repo.refresh_views() == 0  # reads already brought it up to date
    with pytest.raises(palimpsest.InvalidValue):
        repo.create_view("open_tasks", "tasks", F("state") == "done")
    repo.drop_view("open_tasks")
    with pytest.raises(palimpsest.NotFound):
        repo.head().materialized("open_tasks")


def test_entity_view_follows_type_changes(repo: palimpsest.Repository) -> None:
    repo.put_entity("a", type="Person", props={"vip": True})
    repo.put_entity("b", type="Person", props={"vip": False})
    repo.create_view("vips", "Person", F("vip") == True)  # noqa: E712
    assert [e.id for e in repo.head().materialized("vips")] == ["a"]
    repo.put_entity("a", type="Robot", props={"vip": True})
    repo.put_entity("b", type="Person", props={"vip": True})
    assert [e.id for e in repo.head().materialized("vips")] == ["b"]
    assert repo.refresh_views("vips") == 0
