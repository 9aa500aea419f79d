"""Reads inside a transaction join its read set: no write skew.

Two transactions opened on the same head that each check something ("no relation from a yet",
"no lock under /locks/", "fewer than N people") and then write cannot both commit: the second
gets ConcurrentCommit. A concurrent change that touches nothing a transaction read (or wrote)
still lets its commit land on the new head.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

import palimpsest
from palimpsest import ConcurrentCommit, F, QueryError, Transaction

Step = Callable[[Transaction], object]


def race(repo: palimpsest.Repository, first: Step, second: Step) -> Transaction:
    """Open two transactions on the same head, run ``first`` in one and ``second`` in the
    other, commit the first, then the second (returned, if it committed)."""
    one, two = repo.transaction("one"), repo.transaction("two")
    first(one)
    second(two)
    with one:
        pass
    with two:
        pass
    return two


def seed(repo: palimpsest.Repository) -> None:
    with repo.transaction("seed") as tx:
        for id, type in (("a", "Person"), ("b", "Person"), ("c", "Person"), ("x", "Company")):
            tx.put_entity(id, type)
        tx.put_relation("x-c", "OWNS", "x", "c")
        tx.put_document("people", "ann", {"age": 31})
        tx.put_document("orders", "o1", {"total": 5})


def check_then_link(target: str, rel: str) -> Step:
    def step(tx: Transaction) -> None:
        if not tx.relations(source="a"):  # "a has no relation yet": link it
            tx.put_relation(rel, "KNOWS", "a", target)
    return step


# -- write skew is refused, on every read kind ------------------------------------------------
def test_relations_by_source(repo: palimpsest.Repository) -> None:
    seed(repo)
    with pytest.raises(ConcurrentCommit, match="relations from 'a'"):
        race(repo, check_then_link("b", "r1"), check_then_link("c", "r2"))
    assert [r.id for r in repo.head().relations(source="a")] == ["r1"]


def test_relations_by_target(repo: palimpsest.Repository) -> None:
    seed(repo)

    def step(source: str) -> Step:
        def run(tx: Transaction) -> None:
            if not tx.relations(target="a"):
                tx.put_relation(f"{source}-a", "KNOWS", source, "a")
        return run

    with pytest.raises(ConcurrentCommit):
        race(repo, step("b"), step("c"))


def test_relation_deleted_meanwhile_invalidates_an_adjacency_read(
        repo: palimpsest.Repository) -> None:
    seed(repo)
    repo.put_relation("a-b", "KNOWS", "a", "b")
    with pytest.raises(ConcurrentCommit), repo.transaction() as tx:
        assert [r.id for r in tx.relations(source="a")] == ["a-b"]
        tx.put_entity("note", "Note", {"a knows": 1})
        repo.delete_relation("a-b")  # another writer: the deletion row has no source


def test_relation_repointed_meanwhile_invalidates_the_old_source(
        repo: palimpsest.Repository) -> None:
    seed(repo)
    repo.put_relation("r", "KNOWS", "a", "b")
    with pytest.raises(ConcurrentCommit), repo.transaction() as tx:
        assert len(tx.relations(source="a")) == 1
        tx.put_entity("note", "Note")
        repo.put_relation("r", "KNOWS", "c", "b")  # now from c: a has no relation any more


def test_entity_count_by_type(repo: palimpsest.Repository) -> None:
    seed(repo)

    def hire(id: str) -> Step:
        def run(tx: Transaction) -> None:
            if tx.count("Person") < 4:
                tx.put_entity(id, "Person")
        return run

    with pytest.raises(ConcurrentCommit, match="entities of type 'Person'"):
        race(repo, hire("d"), hire("e"))
    assert repo.head().count("Person") == 4


def test_entities_by_type_and_where(repo: palimpsest.Repository) -> None:
    seed(repo)

    def claim(id: str) -> Step:
        def run(tx: Transaction) -> None:
            if not list(tx.entities("Person", where={"role": "chair"})):
                tx.update_entity(id, {"role": "chair"})
        return run

    with pytest.raises(ConcurrentCommit):
        race(repo, claim("a"), claim("b"))
    assert [e.id for e in repo.head().entities("Person", where={"role": "chair"})] == ["a"]


def test_entity_retyped_meanwhile_invalidates_a_type_read(repo: palimpsest.Repository) -> None:
    seed(repo)
    with pytest.raises(ConcurrentCommit), repo.transaction() as tx:
        assert tx.count("Company") == 1
        tx.put_entity("note", "Note")
        repo.put_entity("x", "Partnership")  # x stops being a Company


def test_relation_count_by_type(repo: palimpsest.Repository) -> None:
    seed(repo)

    def link(id: str, target: str) -> Step:
        def run(tx: Transaction) -> None:
            if tx.count_relations("KNOWS") == 0:
                tx.put_relation(id, "KNOWS", "a", target)
        return run

    with pytest.raises(ConcurrentCommit):
        race(repo, link("r1", "b"), link("r2", "c"))


def test_kv_prefix_list(repo: palimpsest.Repository) -> None:
    def lock(name: str) -> Step:
        def run(tx: Transaction) -> None:
            if not tx.kv.list("/locks/"):
                tx.kv.set(f"/locks/{name}", b"held")
        return run

    with pytest.raises(ConcurrentCommit, match="kv entries under '/locks/'"):
        race(repo, lock("one"), lock("two"))
    assert repo.kv.keys("/locks/") == ["/locks/one"]


def test_kv_prefix_count_and_keys(repo: palimpsest.Repository) -> None:
    repo.kv.set("/jobs/1", b"x")
    with pytest.raises(ConcurrentCommit), repo.transaction() as tx:
        assert tx.kv.count("/jobs/") == 1
        tx.kv.set("/summary", b"1 job")
        repo.kv.delete("/jobs/1")  # a deletion under the prefix changes the count
    with pytest.raises(ConcurrentCommit), repo.transaction() as tx:
        assert tx.kv.keys("/jobs/", limit=5) == []
        tx.kv.set("/summary", b"no jobs")
        repo.kv.set("/jobs/2", b"y")


def test_kv_get_of_a_missing_key(repo: palimpsest.Repository) -> None:
    def campaign(tx: Transaction) -> None:
        if tx.kv.get("/leader") is None:  # decides on /leader, writes elsewhere
            tx.kv.set("/candidate", b"two")

    with pytest.raises(ConcurrentCommit, match="k:/leader"):
        race(repo, lambda tx: tx.kv.set("/leader", b"one"), campaign)


def test_document_query(repo: palimpsest.Repository) -> None:
    seed(repo)

    def add(key: str) -> Step:
        def run(tx: Transaction) -> None:
            if not tx.query("people", F("age") > 40):
                tx.put_document("people", key, {"age": 50})
        return run

    with pytest.raises(ConcurrentCommit, match="documents of type 'people'"):
        race(repo, add("bob"), add("cyd"))


def test_documents_listing_and_aggregate(repo: palimpsest.Repository) -> None:
    seed(repo)
    with pytest.raises(ConcurrentCommit), repo.transaction() as tx:
        assert len(tx.documents("people")) == 1
        tx.put_document("stats", "people", {"n": 1})
        repo.delete_document("people", "ann")
    with pytest.raises(ConcurrentCommit), repo.transaction() as tx:
        assert tx.aggregate("orders") == {"count": 1}
        tx.put_document("stats", "orders", {"n": 1})
        repo.put_document("orders", "o2", {"total": 7})


def test_neighbors(repo: palimpsest.Repository) -> None:
    seed(repo)

    def befriend(target: str) -> Step:
        def run(tx: Transaction) -> None:
            if not tx.neighbors("a"):
                tx.put_relation(f"a-{target}", "KNOWS", "a", target)
        return run

    with pytest.raises(ConcurrentCommit):
        race(repo, befriend("b"), befriend("c"))


def test_neighbors_at_depth_two_track_the_second_hop(repo: palimpsest.Repository) -> None:
    seed(repo)
    repo.put_relation("a-b", "KNOWS", "a", "b")
    with pytest.raises(ConcurrentCommit), repo.transaction() as tx:
        assert [e.id for e in tx.neighbors("a", depth=2)] == ["b"]
        tx.put_entity("note", "Note")
        repo.put_relation("b-c", "KNOWS", "b", "c")  # c is now two hops away
    with pytest.raises(ConcurrentCommit), repo.transaction() as tx:
        assert [e.id for e in tx.neighbors("a", depth=2)] == ["b", "c"]
        tx.put_entity("note", "Note")
        repo.update_entity("c", {"age": 40})  # a neighbor's value was read too


def test_two_handles(open_repo, repo_url: str) -> None:  # type: ignore[no-untyped-def]
    if repo_url == ":memory:":
        pytest.skip("needs a second handle on the same database")
    first, second = open_repo(), open_repo()
    seed(first)
    one, two = first.transaction("one"), second.transaction("two")
    check_then_link("b", "r1")(one)
    check_then_link("c", "r2")(two)
    with one:
        pass
    with pytest.raises(ConcurrentCommit), two:
        pass
    assert [r.id for r in second.head().relations(source="a")] == ["r1"]


# -- unrelated concurrent changes still land -----------------------------------------------
@pytest.mark.parametrize("read, other", [
    (lambda tx: tx.relations(source="a"), lambda r: r.put_relation("b-c", "K", "b", "c")),
    (lambda tx: tx.relations(target="a"), lambda r: r.put_relation("a-b", "K", "a", "b")),
    (lambda tx: tx.relations(type="KNOWS"), lambda r: r.put_relation("a-b", "LIKES", "a", "b")),
    (lambda tx: tx.count("Person"), lambda r: r.put_entity("y", "Company")),
    (lambda tx: list(tx.entities("Person")), lambda r: r.update_entity("x", {"v": 1})),
    (lambda tx: tx.count_relations("KNOWS"), lambda r: r.put_relation("z", "OWNS", "x", "a")),
    (lambda tx: tx.neighbors("a"), lambda r: r.put_relation("b-c", "K", "b", "c")),
    (lambda tx: tx.neighbors("a", direction="out"), lambda r: r.put_relation("b-a", "K", "b", "a")),
    (lambda tx: tx.documents("people"), lambda r: r.put_document("orders", "o2", {})),
    (lambda tx: tx.query("people", F("age") > 1), lambda r: r.put_document("orders", "o2", {})),
    (lambda tx: tx.query("Person", {"age": 3}), lambda r: r.put_entity("y", "Company")),
    (lambda tx: tx.kv.list("/locks/"), lambda r: r.kv.set("/lockless", b"1")),
    (lambda tx: tx.kv.count("/locks/"), lambda r: r.kv.set("/other/x", b"1")),
    (lambda tx: tx.kv.get("/a"), lambda r: r.kv.set("/b", b"1")),
    (lambda tx: tx.entity("a"), lambda r: r.put_entity("b", "Person", {"v": 2})),
])
def test_unrelated_change_lets_the_commit_land(repo: palimpsest.Repository, read: Step,
                                               other: Callable[[palimpsest.Repository], object]
                                               ) -> None:
    seed(repo)
    with repo.transaction("mine") as tx:
        read(tx)
        tx.put_entity("mine", "Note")
        moved = other(repo)
    assert tx.commit is not None
    assert tx.commit.parents == (repo.log()[1].id,), moved
    assert repo.head().entity("mine") is not None


def test_deleting_an_entity_does_not_track_its_cascade(repo: palimpsest.Repository) -> None:
    """delete_entity reads the relations it cascades to for itself; the cascade is redone
    against the state the commit lands on, so a new relation is deleted, not a conflict."""
    seed(repo)
    with repo.transaction() as tx:
        tx.delete_entity("c")
        repo.put_relation("a-c", "KNOWS", "a", "c")
    head = repo.head()
    assert head.entity("c") is None and head.relation("a-c") is None
    assert head.relation("x-c") is None


# -- reads see the transaction's own writes ---------------------------------------------------
def test_reads_include_own_writes(repo: palimpsest.Repository) -> None:
    seed(repo)
    with repo.transaction() as tx:
        tx.put_entity("d", "Person")
        tx.put_entity("x", "Person")  # retyped from Company
        tx.delete_entity("b")
        assert tx.count("Person") == 4 and tx.count("Company") == 0
        assert [e.id for e in tx.entities("Person")] == ["a", "c", "d", "x"]
        tx.put_relation("a-d", "KNOWS", "a", "d")
        assert tx.count_relations() == 2 and tx.count_relations("KNOWS") == 1
        assert [r.id for r in tx.relations(type="KNOWS")] == ["a-d"]
        assert [e.id for e in tx.neighbors("d")] == ["a"]
        assert [e.id for e in tx.neighbors("c", depth=3)] == ["x"]
        tx.put_document("people", "bob", {"age": 20})
        tx.delete_document("people", "ann")
        assert [d.key for d in tx.documents("people")] == ["bob"]
        assert [d.key for d in tx.documents("people", limit=1, offset=0)] == ["bob"]
        with pytest.raises(QueryError, match="run them before writing"):
            tx.query("people")
        with pytest.raises(QueryError):
            tx.query("Person")
        assert tx.query("orders") != []
        first = tx.kv.set("/a/1", b"x")
        assert first.version == 1 and first.commit == ""
        assert tx.kv.set("/a/1", b"y").version == 1  # one new version per transaction
        tx.kv.set("/a/2", b"z")
        assert [e.key for e in tx.kv.list("/a/", limit=1)] == ["/a/1"]
        assert tx.kv.get("/a/1").value == b"y"  # type: ignore[union-attr]
        assert tx.kv.delete("/a/2") and not tx.kv.delete("/a/3")
        assert tx.kv.keys("/a/") == ["/a/1"] and tx.kv.count() == 1
    assert repo.kv.get("/a/1").version == 1  # type: ignore[union-attr]
    with repo.transaction() as tx:
        assert tx.kv.set("/a/1", b"w").version == 2
        assert tx.kv.list("/")[0].commit == ""
    assert repo.kv.get("/a/1").value == b"w"  # type: ignore[union-attr]


# -- run_transaction retries these conflicts -------------------------------------------------
def test_run_transaction_retries_a_predicate_conflict(repo: palimpsest.Repository) -> None:
    seed(repo)
    attempts: list[int] = []

    def link_once(tx: Transaction) -> None:
        attempts.append(len(tx.relations(source="a")))
        if len(attempts) == 1:  # another writer links a while the first attempt runs
            repo.put_relation("a-b", "KNOWS", "a", "b")
        if not tx.relations(source="a"):
            tx.put_relation("a-c", "KNOWS", "a", "c")
        tx.put_entity("audit", "Note", {"attempt": len(attempts)})

    commit = repo.run_transaction(link_once, retries=3)
    assert attempts == [0, 1]
    head = repo.at(commit.id)
    assert [r.id for r in head.relations(source="a")] == ["a-b"]
    assert head.entity("audit").props == {"attempt": 2}  # type: ignore[union-attr]

    def always_moved(tx: Transaction) -> None:
        tx.kv.list("/q/")
        repo.kv.set(f"/q/{len(tx.kv.keys('/'))}", b"x")
        tx.kv.set("/done", b"1")

    with pytest.raises(ConcurrentCommit):
        repo.run_transaction(always_moved, retries=2)
    assert len(repo.kv.keys("/q/")) == 3  # three attempts, each overtaken


def test_threads_cannot_overbook(open_repo, repo_url: str) -> None:  # type: ignore[no-untyped-def]
    """Writers on their own handles each book a seat only while fewer than 3 are booked (a
    count, then a write elsewhere): exactly 3 get one, however the commits interleave."""
    import threading

    if repo_url == ":memory:":
        pytest.skip("needs several handles on the same database")
    open_repo().put_entity("hall", "Hall")
    handles = [open_repo() for _ in range(6)]
    errors: list[BaseException] = []
    start = threading.Barrier(len(handles))

    def book(index: int) -> None:
        repo = handles[index]

        def attempt(tx: Transaction) -> None:
            if tx.count("Seat") < 3:
                tx.put_entity(f"seat-{index}", "Seat")

        try:
            start.wait()
            repo.run_transaction(attempt, retries=50)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=book, args=(i,)) for i in range(len(handles))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert handles[0].head().count("Seat") == 3
