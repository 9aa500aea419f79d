"""schema.org's release history as a palimpsest repository.

Imports every release of the schema.org vocabulary (N-Triples, 2.0 ... 30.0) in version order
into one branch, one commit per release: the commit records only what the release changed,
is tagged with the release number and dated with the release's official date. Then it shows
the log, the diff between two releases, the history of one type and the graph at a date.

    python examples/schemaorg_history.py                   # all releases -> schemaorg.db
    python examples/schemaorg_history.py --releases 2.0,2.1,2.2 --repo :memory:
    python examples/schemaorg_history.py --data path/to/schemaorg --repo kg.db

The releases are read from the shared data set beside the checkout,
``<checkout>/../shared/data/schemaorg`` (``manifest.json`` and ``releases/<version>.nt.xz``),
unless ``--data`` names another folder.

Commit times never go backwards in palimpsest (a commit may not be older than its parent).
Releases are imported in version order; a release whose date is earlier than the previous
commit's is committed at the previous commit's time, and its real date is kept in the
commit's metadata (``release_date``, with ``time_clamped: true``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import palimpsest
from palimpsest.io import import_graph
from palimpsest.io.rdf import parse_rdf

CHECKOUT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = CHECKOUT.parent / "shared" / "data" / "schemaorg"
UPSTREAM = "https://github.com/schemaorg/schemaorg"


def missing_data(data: Path, missing: Sequence[str] = ()) -> str:
    """What to say when the releases are not where we look: where we looked, where they
    belong, and where they come from."""
    what = (f"{len(missing)} release file(s) missing in {data}/releases: "
            f"{', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}" if missing
            else f"no schema.org releases at {data} (no manifest.json)")
    return "\n".join([
        what,
        "The script reads the shared schema.org data set (manifest.json and "
        "releases/<version>.nt.xz), by default from",
        f"  {DEFAULT_DATA}",
        "that is, a shared/data/schemaorg folder beside the checkout. Put the data set there, "
        "or pass --data FOLDER.",
        f"The releases come from {UPSTREAM} (data/releases/<version>/); the data set's "
        "README.md says how each file was made.",
    ])


@dataclass(frozen=True)
class Release:
    """One release as the data set's manifest.json describes it."""

    version: str
    path: Path
    date: str
    triples: int
    info: dict[str, Any]


def releases(data: Path = DEFAULT_DATA, only: Sequence[str] | None = None) -> list[Release]:
    """The releases in manifest order (version order), optionally only some versions."""
    manifest = json.loads((data / "manifest.json").read_text(encoding="utf-8"))
    out = []
    for item in manifest:
        version = str(item["version"])
        if only is not None and version not in only:
            continue
        date = item.get("official_release_date") or item["release_date"]
        out.append(Release(version, data / "releases" / f"{version}.nt.xz", str(date),
                           int(item.get("triples", 0)), item))
    if only is not None:
        missing = set(only) - {r.version for r in out}
        if missing:
            raise SystemExit(f"no such release(s) in {data}: {', '.join(sorted(missing))}")
    return out


def import_release(repo: palimpsest.Repository, release: Release, *,
                   branch: str = "main") -> palimpsest.Commit:
    """Import one release as one commit on ``branch`` and tag it with its number."""
    when = datetime.fromisoformat(release.date).replace(tzinfo=UTC)
    head = repo.at(branch).commit
    clamped = head is not None and when < head.timestamp
    metadata: dict[str, Any] = {
        "release": release.version, "release_date": release.date,
        "source": f"schemaorg/releases/{release.path.name}",
        "sha256": release.info.get("sha256"), "triples": release.triples,
    }
    if clamped:
        assert head is not None
        when = head.timestamp
        metadata["time_clamped"] = True
    graph = parse_rdf(release.path)
    result = import_graph(repo, graph, branch=branch, message=f"schema.org {release.version}",
                          author="schema.org", timestamp=when, metadata=metadata)
    assert result.commit is not None
    repo.tag(release.version, result.commit.id, force=True)
    return result.commit


def build(repo: palimpsest.Repository, data: Path = DEFAULT_DATA,
          only: Sequence[str] | None = None,
          report: Callable[[str], None] | None = None) -> list[tuple[Release, palimpsest.Commit]]:
    """Import the releases in order; returns (release, commit) pairs."""
    done = []
    for release in releases(data, only):
        start = time.perf_counter()
        commit = import_release(repo, release)
        if report is not None:
            s = commit.stats
            report(f"{release.version:>6} {release.date}  {commit.short_id}  "
                   f"+{s.created:<5} ~{s.modified:<5} -{s.deleted:<5} "
                   f"({time.perf_counter() - start:.2f} s)")
        done.append((release, commit))
    return done


def show(repo: palimpsest.Repository, out: Callable[[str], None] = print) -> None:
    """The tour: log, a diff between two releases, one type's history, the graph at a date."""
    tags = {t.name for t in repo.tags()}
    out("\n== log (newest first) ==")
    for commit in repo.log(limit=8):
        s = commit.stats
        out(f"{commit.short_id} {commit.timestamp:%Y-%m-%d} {commit.message:<18} "
            f"+{s.created} ~{s.modified} -{s.deleted}")
    pair = next(((a, b) for a, b in (("28.0", "29.0"), ("2.1", "2.2")) if {a, b} <= tags), None)
    if pair is None and len(tags) >= 2:
        ordered = [c.metadata.get("release") for c in reversed(repo.log(limit=None))]
        pair = (str(ordered[-2]), str(ordered[-1]))
    if pair is not None:
        a, b = pair
        diff = repo.diff(a, b)
        st = diff.stats
        out(f"\n== diff {a} -> {b}: entities +{st.entities_created} ~{st.entities_modified} "
            f"-{st.entities_deleted}, relations +{st.relations_created} "
            f"-{st.relations_deleted} ==")
        named = [c for c in diff.entities_added if not c.new.type.startswith("@")]
        for change in named[:5]:
            label = change.new.props.get("rdfs:label")
            out(f"  + {change.id} ({change.new.type}) {label if isinstance(label, str) else ''}")
        for change in diff.entities_modified[:5]:
            out(f"  ~ {change.id}: {', '.join(sorted(change.property_changes()))}")
    for type_id in ("schema:Person", "schema_http:Person"):
        versions = repo.history(type_id)
        if versions:
            out(f"\n== history of {type_id} ({len(versions)} versions) ==")
            for version in versions[:8]:
                out(f"  {version.commit.metadata.get('release', '?'):>6} {version.kind:<8} "
                    f"{version.commit.short_id}")
    first = repo.log(limit=None)[-1] if repo.log(limit=1) else None
    if first is not None:
        day = "2019-01-01" if first.timestamp.year < 2019 else first.timestamp.date().isoformat()
        view = repo.at(day)
        assert view.commit is not None
        out(f"\n== the graph on {day}: release {view.commit.metadata.get('release')} ==")
        out(f"  {view.count()} entities ({view.count('rdfs:Class')} classes, "
            f"{view.count('rdf:Property')} properties), {view.count_relations()} relations")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="the schemaorg data folder (manifest.json, releases/)")
    parser.add_argument("--repo", default="schemaorg.db", help="repository to create")
    parser.add_argument("--releases", help="comma-separated versions (default: all)")
    args = parser.parse_args(argv)
    if not (args.data / "manifest.json").exists():
        print(missing_data(args.data), file=sys.stderr)
        return 1
    if args.repo != ":memory:" and Path(args.repo).exists():
        print(f"{args.repo} exists; choose a new --repo", file=sys.stderr)
        return 1
    only = [v.strip() for v in args.releases.split(",")] if args.releases else None
    absent = [r.path.name for r in releases(args.data, only) if not r.path.exists()]
    if absent:
        print(missing_data(args.data, absent), file=sys.stderr)
        return 1
    start = time.perf_counter()
    with palimpsest.open(args.repo, author="schema.org") as repo:
        built = build(repo, args.data, only, report=print)
        total = time.perf_counter() - start
        triples = sum(r.triples for r, _ in built)
        print(f"imported {len(built)} releases ({triples} triples) in {total:.1f} s")
        show(repo)
    return 0


if __name__ == "__main__":
    sys.exit(main())
