"""Diffs for the web UI: one page of changes plus the summary counts of the whole diff
(:func:`diff_page`, the one place that reads a diff for a page), and the rendering model of a
change (side-by-side property rows, folded large values, word diffs of long texts).

A page is a slice of the diff in review order (modified first, then by element kind, type and
id) after the filters (element kind, change kind, type, an id substring); the summary always
counts the whole diff (in SQL, reading no value), so every filter shows how many changes it
selects. A diff bigger than :data:`FULL_READ` is not read whole: its pages come from the paged
diff (``Repository.diff(a, b, limit=, after=)``), in diff order.
"""

from __future__ import annotations

import difflib
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import orjson

from ..repository import Repository
from ..storage.visibility import Chain, change_counts
from ..types import Change, Commit, Diff, property_changes
from ..versioning.diff import compute as compute_diff
from ..versioning.elements import element_name

PER_PAGE = 50
MAX_PER_PAGE = 1000
FOLD_CHARS = 240
"""A value whose JSON is longer than this shows folded (its start, click to unfold)."""
WORD_DIFF_CHARS = 40
"""Changed strings at least this long (either side) also show an inline word diff."""
KIND_ORDER = {"modified": 0, "created": 1, "deleted": 2}
ELEMENT_ORDER = {"entity": 0, "relation": 1, "document": 2, "kv": 3}
ELEMENT_LABELS = {"entity": "Entities", "relation": "Relations", "document": "Documents",
                  "kv": "Key-value entries"}


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


# -- the page adapter ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class DiffFilter:
    """What a diff page shows: empty strings select everything."""

    element: str = ""
    kind: str = ""
    type: str = ""
    q: str = ""

    def matches(self, change: Change) -> bool:
        if self.element and change.element != self.element:
            return False
        if self.kind and change.kind != self.kind:
            return False
        if self.type and type_of(change) != self.type:
            return False
        return not self.q or self.q.lower() in change_label(change).lower()

    @property
    def active(self) -> bool:
        return bool(self.element or self.kind or self.type or self.q)

    def params(self) -> dict[str, str]:
        return {k: v for k, v in (("element", self.element), ("kind", self.kind),
                                  ("type", self.type), ("q", self.q)) if v}


@dataclass(frozen=True, slots=True)
class Counts:
    created: int = 0
    modified: int = 0
    deleted: int = 0

    @property
    def total(self) -> int:
        return self.created + self.modified + self.deleted


@dataclass(frozen=True, slots=True)
class TypeCounts:
    """The changes of one entity or relation type (documents: one collection)."""

    element: str
    type: str
    counts: Counts


@dataclass(frozen=True, slots=True)
class DiffSummary:
    total: int
    by_element: dict[str, Counts]
    by_type: list[TypeCounts]


@dataclass(frozen=True, slots=True)
class DiffPage:
    """One page of a diff: the summary of all of it, how many changes the filter selects,
    and the page's changes (``offset`` is the index of the first among those selected)."""

    summary: DiffSummary
    matched: int
    offset: int
    limit: int
    changes: list[Change]
    a: Commit | None = None
    b: Commit | None = None
    order: str = "review"
    """``review`` (modified first, then by element, type and id) or ``diff`` (element kind,
    then id: a big diff paged as stored, see :data:`FULL_READ`)."""


def type_of(change: Change) -> str:
    if change.element == "document":
        return change.collection or ""
    if change.element == "kv":
        return ""
    value = change.new if change.new is not None else change.old
    return str(getattr(value, "type", ""))


def change_label(change: Change) -> str:
    return f"{change.collection}/{change.id}" if change.element == "document" else change.id


def review_order(change: Change) -> tuple[int, int, str, str]:
    return (KIND_ORDER.get(change.kind, 3), ELEMENT_ORDER.get(change.element, 4),
            type_of(change), change_label(change))


def summarize(changes: Sequence[Change]) -> DiffSummary:
    return summary_of(Counter((c.element, type_of(c), c.kind) for c in changes))


def summary_of(types: Counter[tuple[str, str, str]]) -> DiffSummary:
    """The summary of a diff from its counts by ``(element, type, change kind)``."""
    kinds: Counter[tuple[str, str]] = Counter()
    for (element, _, kind), n in types.items():
        kinds[(element, kind)] += n

    def counts(get: Any) -> Counts:
        return Counts(get("created"), get("modified"), get("deleted"))

    by_element = {e: counts(lambda k, e=e: kinds[(e, k)]) for e in ELEMENT_ORDER
                  if any(kinds[(e, k)] for k in KIND_ORDER)}
    keys = sorted({(e, t) for e, t, _ in types},
                  key=lambda et: (ELEMENT_ORDER.get(et[0], 4), et[1]))
    by_type = [TypeCounts(e, t, counts(lambda k, e=e, t=t: types[(e, t, k)])) for e, t in keys
               if e in ("entity", "relation", "document")]
    by_type.sort(key=lambda tc: (ELEMENT_ORDER.get(tc.element, 4), -tc.counts.total, tc.type))
    return DiffSummary(sum(types.values()), by_element, by_type)


def page_of(changes: Sequence[Change], filt: DiffFilter, offset: int, limit: int, *,
            a: Commit | None = None, b: Commit | None = None,
            prepared: tuple[list[Change], DiffSummary] | None = None) -> DiffPage:
    """The page at ``offset`` of the changes ``filt`` selects, in review order
    (``prepared``: the changes already sorted in review order, and their summary)."""
    limit = min(max(limit, 1), MAX_PER_PAGE)
    ordered, summary = prepared or prepare(changes)
    selected = [c for c in ordered if filt.matches(c)] if filt.active else ordered
    offset = max(min(offset, max(len(selected) - 1, 0)), 0)
    offset -= offset % limit
    return DiffPage(summary, len(selected), offset, limit, selected[offset:offset + limit],
                    a, b)


def prepare(changes: Sequence[Change]) -> tuple[list[Change], DiffSummary]:
    return sorted(changes, key=review_order), summarize(changes)


FULL_READ = 5000
"""A diff of at most this many changes is read whole (cheap at that size) and listed in review
order, every filter applied to it. A bigger one pages through the paged diff
(``Repository.diff(a, b, limit=, after=)``): its summary is counted in SQL, each page reads its
own changes only, listed in diff order (element kind, then id), also when filtered by element;
a filter by change kind, type or id on it reads the whole diff once (then cached)."""

CACHED_DIFFS = 8
"""Diffs between two commits (immutable) whose summary, page cursors and (when read whole)
sorted changes are kept, so paging does not recount or reread them."""

EMPTY_CHAIN: Chain = ((1, 0),)
"""The chain of the state before any commit (one side of a root commit's diff)."""

_ELEMENT_CODES = {"entity": "e", "relation": "r", "document": "d", "kv": "k"}


@dataclass
class _Known:
    """What is known of one diff: its summary, the cursor where the page at an offset starts
    (per element filter), and the whole diff in review order once something needed it."""

    summary: DiffSummary
    cursors: dict[tuple[str, int], str | None] = field(default_factory=dict)
    prepared: tuple[list[Change], DiffSummary] | None = None


_CACHE: OrderedDict[tuple[int, str | None, str | None], _Known] = OrderedDict()
_CACHE_LOCK = threading.Lock()


def _endpoints(repo: Repository, a: str | None, b: str | None
               ) -> tuple[Commit | None, Commit | None]:
    if a is None:
        commit = repo.resolve(b)
        return (repo.resolve(commit.parents[0]) if commit.parents else None), commit
    if b is None and "..." in a:
        left, right = a.split("...", 1)
        return repo.merge_base(left or "HEAD", right or "HEAD"), repo.resolve(right or None)
    if b is None and ".." in a:
        left, right = a.split("..", 1)
        return repo.resolve(left or None), repo.resolve(right or None)
    return repo.resolve(a), repo.resolve(b)


def _chains(repo: Repository, ca: Commit | None, cb: Commit | None) -> tuple[Chain, Chain]:
    return (repo.at(ca.id).chain if ca else EMPTY_CHAIN,
            repo.at(cb.id).chain if cb else EMPTY_CHAIN)


def read_diff(repo: Repository, ca: Commit | None, cb: Commit | None, *,
              limit: int | None = None, after: str | None = None) -> Diff:
    """The diff (or one page of it) between two commits, either of which may be the empty
    state before the first commit (``Repository.diff`` when both exist)."""
    if ca is not None and cb is not None:
        return repo.diff(ca.id, cb.id, limit=limit, after=after)
    chain_a, chain_b = _chains(repo, ca, cb)
    return compute_diff(repo.database, ca, chain_a, cb, chain_b, limit=limit, after=after)


def count_diff(repo: Repository, ca: Commit | None, cb: Commit | None) -> DiffSummary:
    """The summary of a diff counted in SQL from row ops, hashes and types (what
    ``Repository.diff_stats`` counts, by type as well): no value is read."""
    types: Counter[tuple[str, str, str]] = Counter()
    for (code, change, type_), n in change_counts(repo.database, *_chains(repo, ca, cb)).items():
        element = element_name(code)
        types[(element, "" if element == "kv" else type_, change)] += n
    return summary_of(types)


def diff_page(repo: Repository, a: str | None, b: str | None, filt: DiffFilter,
              offset: int = 0, limit: int = PER_PAGE) -> DiffPage:
    """One page of the diff from ``a`` to ``b`` and the summary counts of the whole diff.

    ``a`` None: the changes of commit ``b`` (from its first parent). ``b`` None: ``a`` may be
    a range (``A..B``, ``A...B``), else to the current head. This is the only place the UI
    reads a diff for a page; see :data:`FULL_READ` for what a page of a big diff reads.
    """
    if a is not None and b is None and ".." not in a:
        b = "HEAD"
    ca, cb = _endpoints(repo, a, b)
    key = (id(repo.database), ca.id if ca else None, cb.id if cb else None)
    with _CACHE_LOCK:
        known = _CACHE.get(key)
        if known is not None:
            _CACHE.move_to_end(key)
    if known is None:
        known = _Known(count_diff(repo, ca, cb))
        with _CACHE_LOCK:
            _CACHE[key] = known
            while len(_CACHE) > CACHED_DIFFS:
                _CACHE.popitem(last=False)
    limit = min(max(limit, 1), MAX_PER_PAGE)
    if known.summary.total > FULL_READ and not (filt.kind or filt.type or filt.q):
        return _paged(repo, known, ca, cb, filt.element, offset, limit)
    if known.prepared is None:
        ordered = sorted(read_diff(repo, ca, cb).changes, key=review_order)
        known.prepared = (ordered, known.summary)
    return page_of(known.prepared[0], filt, offset, limit, a=ca, b=cb, prepared=known.prepared)


def _paged(repo: Repository, known: _Known, ca: Commit | None, cb: Commit | None,
           element: str, offset: int, limit: int) -> DiffPage:
    """The page at ``offset`` of a big diff (of one element kind), in diff order, read through
    the paged diff: only the page's changes are decoded."""
    by_element = known.summary.by_element
    matched = (by_element[element].total if element in by_element else 0) if element \
        else known.summary.total
    offset = max(min(offset, max(matched - 1, 0)), 0)
    offset -= offset % limit
    changes: list[Change] = []
    if matched:
        found = read_diff(repo, ca, cb, limit=limit,
                          after=_cursor(repo, known, ca, cb, element, offset))
        changes = [c for c in found.changes if not element or c.element == element]
        if found.next is not None and offset + limit < matched:
            known.cursors[(element, offset + limit)] = found.next
    return DiffPage(known.summary, matched, offset, limit, changes, ca, cb, order="diff")


def _cursor(repo: Repository, known: _Known, ca: Commit | None, cb: Commit | None,
            element: str, offset: int) -> str | None:
    """The cursor after which the ``offset``-th change (of ``element``) starts: from the
    nearest page start already known, skipping ahead with one page read that decodes nothing
    (``Diff.next`` of a page as long as the gap)."""
    start = f"{_ELEMENT_CODES[element]}:" if element in _ELEMENT_CODES else None
    base = max((o for e, o in list(known.cursors) if e == element and o <= offset), default=0)
    cursor = known.cursors.get((element, base), start) if base else start
    if base < offset:
        cursor = read_diff(repo, ca, cb, limit=offset - base, after=cursor).next
        known.cursors[(element, offset)] = cursor
    return cursor


# -- rendering model -------------------------------------------------------------------------
@dataclass
class FieldRow:
    name: str
    before: str | None
    after: str | None
    status: str  # added | removed | changed | same
    words: list[tuple[str, str]] | None = None
    """For long changed texts: (op, text) segments, op one of ``same``, ``del``, ``ins``."""

    @property
    def fold(self) -> bool:
        return max(len(self.before or ""), len(self.after or "")) > FOLD_CHARS


@dataclass
class ChangeView:
    index: int
    change: Change
    title: str
    rows: list[FieldRow] = field(default_factory=list)
    arrow: tuple[str, str, str] | None = None  # (source, TYPE, target) for relations
    old_arrow: tuple[str, str, str] | None = None

    @property
    def anchor(self) -> str:
        return f"change-{self.index}"

    @property
    def type(self) -> str:
        return type_of(self.change)


_TOKEN = re.compile(r"\s+|[^\s]+")


def word_diff(old: str, new: str) -> list[tuple[str, str]]:
    """An inline word diff of two texts: segments ``(op, text)``, op ``same``/``del``/``ins``
    (whitespace kept, so the segments of one side join back into it)."""
    a, b = _TOKEN.findall(old), _TOKEN.findall(new)
    out: list[tuple[str, str]] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            out.append(("same", "".join(a[i1:i2])))
            continue
        if i2 > i1:
            out.append(("del", "".join(a[i1:i2])))
        if j2 > j1:
            out.append(("ins", "".join(b[j1:j2])))
    return out


def field_rows(old: Any, new: Any) -> list[FieldRow]:
    before = {k: v for k, (_, v) in property_changes(None, old).items()}
    after = {k: v for k, (_, v) in property_changes(None, new).items()}
    rows = []
    for name in sorted(before.keys() | after.keys(), key=lambda n: (n.startswith("@"), n)):
        if name in ("@source", "@target"):
            continue
        has_a, has_b = name in before, name in after
        status = ("added" if not has_a else "removed" if not has_b else
                  "same" if _json(before[name]) == _json(after[name]) else "changed")
        row = FieldRow(name, _json(before[name]) if has_a else None,
                       _json(after[name]) if has_b else None, status)
        if status == "changed" and isinstance(before[name], str) and \
                isinstance(after[name], str) and \
                max(len(before[name]), len(after[name])) >= WORD_DIFF_CHARS:
            row.words = word_diff(before[name], after[name])
        rows.append(row)
    return rows


def change_view(index: int, change: Change) -> ChangeView:
    old, new = change.old, change.new
    if change.element == "kv":
        def show(v: Any) -> str | None:
            if v is None:
                return None
            raw = bytes(v) if isinstance(v, bytes | bytearray) else str(v).encode()
            try:
                return raw.decode()
            except UnicodeDecodeError:
                return f"<{len(raw)} bytes>"
        status = {"created": "added", "deleted": "removed"}.get(change.kind, "changed")
        return ChangeView(index, change, change.id,
                          [FieldRow("value", show(old), show(new), status)])
    view = ChangeView(index, change, change_label(change), field_rows(old, new))
    if change.element == "relation":
        cur = new if new is not None else old
        view.arrow = (cur.source, cur.type, cur.target)
        # the arrow shows the type; keep the row only when the type itself changed
        view.rows = [r for r in view.rows if r.name != "@type" or r.status == "changed"]
        if old is not None and new is not None and (old.source, old.type, old.target) != \
                (new.source, new.type, new.target):
            view.old_arrow = (old.source, old.type, old.target)
    return view


def page_views(page: DiffPage) -> list[ChangeView]:
    """The page's changes as views numbered by their place among the selected changes."""
    return [change_view(page.offset + i, c) for i, c in enumerate(page.changes)]


@dataclass(frozen=True)
class DiffLinks:
    """URLs of a diff page: other pages, filters, and any change by its index (on whichever
    page holds it)."""

    base: str
    fixed: dict[str, str]
    filt: DiffFilter
    page: DiffPage

    def to(self, offset: int = 0, **changes: str) -> str:
        params: dict[str, Any] = {**self.fixed, **self.filt.params()}
        params.update(changes)
        params = {k: v for k, v in params.items() if v not in (None, "")}
        if offset:
            params["offset"] = offset
        if self.page.limit != PER_PAGE:
            params["per"] = self.page.limit
        return self.base + ("?" + urlencode(params) if params else "")

    def only(self, **wanted: str) -> str:
        """This diff with exactly these filters (the summary's links)."""
        return DiffLinks(self.base, self.fixed, DiffFilter(), self.page).to(0, **wanted)

    def change(self, index: int) -> str:
        start = self.page.offset
        if start <= index < start + len(self.page.changes):
            return f"#change-{index}"
        return f"{self.to(index - index % self.page.limit)}#change-{index}"

    @property
    def prev_page(self) -> str | None:
        return self.to(self.page.offset - self.page.limit) if self.page.offset else None

    @property
    def next_page(self) -> str | None:
        after = self.page.offset + self.page.limit
        return self.to(after) if after < self.page.matched else None


def clear_cache() -> None:
    """Forget the cached diffs (benchmarks time first screens with it)."""
    with _CACHE_LOCK:
        _CACHE.clear()
