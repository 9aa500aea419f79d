"""Full-text search in the engine: SQLite FTS5 or PostgreSQL ``tsvector``, behind one protocol.

Both backends index the same tokens, made here in Python (:func:`tokens`: runs of letters and
digits, case-folded), so a query matches the same elements on either engine and a brute-force
model can say what must match. A search query is a conjunction of phrases
(:class:`TextQuery`): a bare word is a one-token phrase, ``"two words"`` a phrase, ``word*`` a
prefix. Each backend stores one table per text index holding, for every indexed row version,
the row's identity ``(kind, key, line, seq)`` and its tokens; the query layer joins matches to
``rows`` on that identity (:func:`same_row`) and keeps those the visibility rule shows.

SQLite ranks with FTS5's BM25, PostgreSQL with ``ts_rank``; both count every indexed version,
not only the visible ones (the ranking statistics are of the index, not of one state).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol


class Database(Protocol):
    """What the full-text backends need of a :class:`~palimpsest.storage.base.Database` (a
    structural subset, so this module stays below ``base``)."""

    def run(self, sql: str, params: Sequence[Any] = ()) -> int: ...

    def many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...

_TOKEN = re.compile(r"[^\W_]+")
MAX_TOKEN = 200
"""Tokens longer than this many characters are not indexed (nor searched for)."""


def tokens(text: str) -> list[str]:
    """The searchable tokens of ``text``: runs of letters and digits, case-folded."""
    return [t for t in (m.group().casefold() for m in _TOKEN.finditer(text)) if len(t) <= MAX_TOKEN]


def token_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, token) of every token of ``text`` (for highlights)."""
    out = []
    for m in _TOKEN.finditer(text):
        token = m.group().casefold()
        if len(token) <= MAX_TOKEN:
            out.append((m.start(), m.end(), token))
    return out


@dataclass(frozen=True, slots=True)
class Phrase:
    """Consecutive tokens; with ``prefix`` the last one matches any token it begins."""

    tokens: tuple[str, ...]
    prefix: bool = False

    def matches(self, field: Sequence[str]) -> bool:
        """Whether the tokens of one field contain this phrase (the reference semantics)."""
        n = len(self.tokens)
        for i in range(len(field) - n + 1):
            if all(field[i + j] == t for j, t in enumerate(self.tokens[:-1])):
                last = field[i + n - 1]
                if last == self.tokens[-1] or (self.prefix and last.startswith(self.tokens[-1])):
                    return True
        return False


@dataclass(frozen=True, slots=True)
class TextQuery:
    """A search: every phrase must occur in some field of the element."""

    phrases: tuple[Phrase, ...]

    def matches(self, fields: Sequence[Sequence[str]]) -> bool:
        return bool(self.phrases) and all(any(p.matches(f) for f in fields)
                                          for p in self.phrases)


_ITEM = re.compile(r'"([^"]*)"(\*?)|(\S+)')


def parse_query(text: str) -> TextQuery:
    """``lovelace "analytical engine" analy*``: words, quoted phrases and prefixes, all
    required. Punctuation separates tokens (``e-mail`` is the phrase ``"e mail"``)."""
    phrases: list[Phrase] = []
    for m in _ITEM.finditer(text):
        quoted, star, word = m.group(1), m.group(2), m.group(3)
        prefix = bool(star) or (word is not None and word.endswith("*"))
        found = tokens(quoted if quoted is not None else word)
        if found:
            phrases.append(Phrase(tuple(found), prefix))
    return TextQuery(tuple(dict.fromkeys(phrases)))


def same_row(a: str, b: str) -> str:
    """SQL joining an index table ``a`` to ``rows`` ``b`` on the row identity."""
    return (f"{a}.kind = {b}.kind AND {a}.key = {b}.key AND {a}.line = {b}.line AND "
            f"{a}.seq = {b}.seq")


Entry = tuple[str, str, int, int, Sequence[Sequence[str]]]
"""One indexed row version: kind, key, line, seq, and the tokens of each field."""


class FullText(Protocol):
    """The engine's full-text index of one text index (one table per index)."""

    def create(self, db: Database, table: str, fields: int) -> None:
        """Create the (empty) index table for ``fields`` fields."""

    def drop(self, db: Database, table: str) -> None: ...

    def add(self, db: Database, table: str, entries: Sequence[Entry]) -> None: ...

    def remove_key(self, db: Database, table: str, kind: str, key: str) -> None:
        """Forget every version of one element (erasure)."""

    def remove_orphans(self, db: Database, table: str) -> None:
        """Forget versions whose row is gone (gc)."""

    def matches(self, table: str, query: TextQuery) -> tuple[str, list[Any]]:
        """SQL selecting ``kind, key, line, seq, score`` of the matching versions (higher
        score: better match) and its parameters."""


def _orphans(table: str) -> str:
    return (f"DELETE FROM {table} WHERE NOT EXISTS (SELECT 1 FROM rows r "
            f"WHERE {same_row(table, 'r')})")


class SQLiteFullText:
    """FTS5, one column per field over the pre-made tokens, ranked by BM25."""

    def create(self, db: Database, table: str, fields: int) -> None:
        columns = ", ".join(f"f{i}" for i in range(fields))
        db.run(f"CREATE VIRTUAL TABLE IF NOT EXISTS {table} USING fts5(kind UNINDEXED, "
               f"key UNINDEXED, line UNINDEXED, seq UNINDEXED, {columns}, "
               "tokenize = 'unicode61 remove_diacritics 0')")

    def drop(self, db: Database, table: str) -> None:
        db.run(f"DROP TABLE IF EXISTS {table}")

    def add(self, db: Database, table: str, entries: Sequence[Entry]) -> None:
        if not entries:
            return
        width = len(entries[0][4])
        marks = ", ".join("?" * (4 + width))
        db.many(f"INSERT INTO {table} (kind, key, line, seq, "
                f"{', '.join(f'f{i}' for i in range(width))}) VALUES ({marks})",
                [(kind, key, line, seq, *(" ".join(f) for f in fields))
                 for kind, key, line, seq, fields in entries])

    def remove_key(self, db: Database, table: str, kind: str, key: str) -> None:
        db.run(f"DELETE FROM {table} WHERE kind = ? AND key = ?", (kind, key))

    def remove_orphans(self, db: Database, table: str) -> None:
        db.run(_orphans(table))

    def matches(self, table: str, query: TextQuery) -> tuple[str, list[Any]]:
        parts = []
        for phrase in query.phrases:
            parts.append('"' + " ".join(phrase.tokens) + '"' + ("*" if phrase.prefix else ""))
        return (f"SELECT kind, key, line, seq, -bm25({table}) AS score FROM {table} "
                f"WHERE {table} MATCH ?", [" AND ".join(parts)])


_POSITIONS = 16383  # PostgreSQL's largest token position
_PER_LEXEME = 255  # positions kept per lexeme


def _tsvector(fields: Sequence[Sequence[str]]) -> str:
    """The tsvector literal of the fields' tokens: one position per token, fields separated
    by a gap so a phrase never spans two fields."""
    positions: dict[str, list[int]] = {}
    at = 1
    for field in fields:
        for token in field:
            found = positions.setdefault(token, [])
            if len(found) < _PER_LEXEME:
                found.append(min(at, _POSITIONS))
            at += 1
        at += 1
    return " ".join(f"'{t}':{','.join(map(str, sorted(set(p))))}"
                    for t, p in sorted(positions.items()))


class PostgresFullText:
    """A ``tsvector`` column with a GIN index, matched by a ``tsquery``, ranked by
    ``ts_rank``. No text search configuration is involved: the lexemes are the tokens."""

    def create(self, db: Database, table: str, fields: int) -> None:
        db.run(f"CREATE TABLE IF NOT EXISTS {table} (kind TEXT NOT NULL, key TEXT NOT NULL, "
               "line BIGINT NOT NULL, seq BIGINT NOT NULL, tsv tsvector NOT NULL, "
               "PRIMARY KEY (kind, key, line, seq))")
        db.run(f"CREATE INDEX IF NOT EXISTS {table}_tsv ON {table} USING gin (tsv)")

    def drop(self, db: Database, table: str) -> None:
        db.run(f"DROP TABLE IF EXISTS {table}")

    def add(self, db: Database, table: str, entries: Sequence[Entry]) -> None:
        if entries:
            db.many(f"INSERT INTO {table} (kind, key, line, seq, tsv) VALUES "
                    "(?, ?, ?, ?, CAST(? AS tsvector)) ON CONFLICT DO NOTHING",
                    [(kind, key, line, seq, _tsvector(fields))
                     for kind, key, line, seq, fields in entries])

    def remove_key(self, db: Database, table: str, kind: str, key: str) -> None:
        db.run(f"DELETE FROM {table} WHERE kind = ? AND key = ?", (kind, key))

    def remove_orphans(self, db: Database, table: str) -> None:
        db.run(_orphans(table))

    def matches(self, table: str, query: TextQuery) -> tuple[str, list[Any]]:
        parts = []
        for phrase in query.phrases:
            words = [f"'{t}'" for t in phrase.tokens]
            if phrase.prefix:
                words[-1] += ":*"
            parts.append("(" + " <-> ".join(words) + ")")
        return (f"SELECT t.kind, t.key, t.line, t.seq, ts_rank(t.tsv, q.q) AS score "
                f"FROM {table} t, (SELECT CAST(? AS tsquery) AS q) q WHERE t.tsv @@ q.q",
                [" & ".join(parts)])
