"""Remotes: named other repositories, stored in the repository (``sync_remotes``), and the
remote-tracking branches (``origin/main``) that mirror their branches."""

from __future__ import annotations

import os
import weakref
from typing import Any

from ..codec import now_us
from ..errors import InvalidKey, InvalidValue, NotFound
from ..storage.base import Database
from ..types import Remote
from ..versioning.refs import check_ref_name

_READY: weakref.WeakSet[Any] = weakref.WeakSet()


def ensure_table(db: Database) -> None:
    """Create ``sync_remotes`` when missing (no schema version change: a repository that
    never had a remote has no table, and older palimpsests ignore it)."""
    if db in _READY:
        return
    bigint = db.dialect.bigint
    with db.write():
        db.run(f"""CREATE TABLE IF NOT EXISTS sync_remotes (
            name    TEXT PRIMARY KEY,
            url     TEXT NOT NULL,
            token   TEXT,
            time_us {bigint} NOT NULL
        )""")
    _READY.add(db)


def check_url(url: object) -> str:
    if not isinstance(url, str) or not url.strip():
        raise InvalidValue("a remote's url is a SQLite path, a postgresql:// URL or an "
                           f"http(s):// server address, not {url!r}")
    return url


class Remotes:
    """``repo.remotes``: add, remove and list the repositories this one syncs with."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, name: str, url: str, *, token: str | None = None) -> Remote:
        """Remember ``url`` (a SQLite path, a ``postgresql://`` URL, or an ``http(s)://``
        server, with the API ``token`` it needs) as ``name``. The token is stored in the
        repository, like git keeps credentials in its config: protect the file."""
        check_ref_name(name, "remote name")
        if "/" in name:
            raise InvalidKey(f"remote name {name!r} contains '/', which separates the remote "
                             "from the branch in remote-tracking names (origin/main)")
        check_url(url)
        if "://" not in url and url != ":memory:":
            url = os.path.abspath(url)  # a path stays right from any working directory
        ensure_table(self.db)
        with self.db.write():
            if self.db.one("SELECT 1 FROM sync_remotes WHERE name = ?", (name,)):
                raise InvalidKey(f"a remote named {name!r} already exists; remove it first or "
                                 "choose another name")
            self.db.run("INSERT INTO sync_remotes (name, url, token, time_us) VALUES "
                        "(?, ?, ?, ?)", (name, url, token, now_us()))
        return Remote(name, url)

    def remove(self, name: str) -> None:
        """Forget a remote and delete its remote-tracking branches (``name/*``)."""
        self.get(name)
        with self.db.write():
            self.db.run("DELETE FROM sync_remotes WHERE name = ?", (name,))
            for (branch,) in self.db.all("SELECT name FROM refs WHERE kind = 'branch'"):
                if str(branch).startswith(f"{name}/"):
                    self.db.run("DELETE FROM refs WHERE name = ?", (branch,))

    def list(self) -> list[Remote]:
        """Every remote, by name."""
        ensure_table(self.db)
        return [Remote(str(n), str(u)) for n, u in
                self.db.all("SELECT name, url FROM sync_remotes ORDER BY name")]

    def get(self, name: str) -> Remote:
        found = self._row(name)
        return Remote(str(found[0]), str(found[1]))

    def token(self, name: str) -> str | None:
        found = self._row(name)
        return str(found[2]) if found[2] is not None else None

    def _row(self, name: str) -> tuple[object, object, object]:
        ensure_table(self.db)
        row = self.db.one("SELECT name, url, token FROM sync_remotes WHERE name = ?", (name,))
        if row is None:
            raise NotFound(f"no remote named {name!r}; add it with "
                           "repo.remotes.add(name, url)")
        return row[0], row[1], row[2]



def tracking_prefixes(db: Database) -> list[str]:
    """``name/`` for every remote: the branches under them mirror another repository."""
    ensure_table(db)
    return [f"{n}/" for (n,) in db.all("SELECT name FROM sync_remotes")]
