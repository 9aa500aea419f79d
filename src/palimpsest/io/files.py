"""Import and export by file: format detection, reading any supported format into a
:class:`~palimpsest.io.snapshot.Snapshot`, and writing a ref's state (or the full history).

Formats: ``archive`` (the full history as JSON Lines, :meth:`Repository.export`), ``json`` and
``jsonl`` (a graph snapshot), ``csv`` (entities and relations files, or a directory holding
``entities.csv`` and ``relations.csv``), and RDF: ``nt``, ``nq``, ``ttl``, ``trig``, ``n3``,
``rdf`` (RDF/XML), ``jsonld``. Files may be gzip- or xz-compressed.
"""

from __future__ import annotations

import gzip
import io
import lzma
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InvalidInput, InvalidValue
from ..types import JSON
from .snapshot import ImportResult, Mode, Progress, Snapshot, as_snapshot, import_graph, snapshot_of

if TYPE_CHECKING:
    from ..repository import Repository

RDF_FORMATS = ("nt", "nq", "ttl", "trig", "n3", "rdf", "jsonld")
SNAPSHOT_FORMATS = ("json", "jsonl", "csv")
FORMATS = ("archive", *SNAPSHOT_FORMATS, *RDF_FORMATS)
_EXTENSIONS = {
    "json": "json", "jsonl": "jsonl", "ndjson": "jsonl", "csv": "csv", "nt": "nt",
    "ntriples": "nt", "nq": "nq", "nquads": "nq", "ttl": "ttl", "turtle": "ttl",
    "trig": "trig", "n3": "n3", "rdf": "rdf", "owl": "rdf", "xml": "rdf", "jsonld": "jsonld",
}
_ALIASES = {"ntriples": "nt", "n-triples": "nt", "turtle": "ttl", "nquads": "nq",
            "n-quads": "nq", "rdfxml": "rdf", "rdf/xml": "rdf", "xml": "rdf", "owl": "rdf",
            "json-ld": "jsonld", "ndjson": "jsonl", "history": "archive"}


def normalize_format(name: str | None) -> str | None:
    """The canonical name of a format option, or raise InvalidValue listing the choices."""
    if name is None:
        return None
    fmt = _ALIASES.get(name.lower(), name.lower())
    if fmt not in FORMATS:
        raise InvalidValue(f"unknown format {name!r}; choose one of {', '.join(FORMATS)}")
    return fmt


def _decompress(data: bytes, source: str | None) -> bytes:
    try:
        if data.startswith(b"\xfd7zXZ\x00"):
            return lzma.decompress(data)
        if data.startswith(b"\x1f\x8b"):
            return gzip.decompress(data)
    except (lzma.LZMAError, OSError, EOFError) as exc:
        raise InvalidInput(f"cannot decompress: {exc}", source=source) from None
    return data


def _is_archive(head: bytes) -> bool:
    first = head.lstrip()[:200]
    return first.startswith(b"{") and b'"t":"header"' in first.replace(b" ", b"") and \
        b"palimpsest-archive" in first


def _head(path: Path, size: int = 4096) -> bytes:
    """The first bytes of a file's (decompressed) content."""
    with open(path, "rb") as raw:
        magic = raw.read(6)
    opener: Any = lzma.open if magic.startswith(b"\xfd7zXZ\x00") else \
        gzip.open if magic.startswith(b"\x1f\x8b") else open
    try:
        with opener(path, "rb") as stream:
            return bytes(stream.read(size))
    except (lzma.LZMAError, OSError, EOFError):
        return b""


def detect_format(path: str | os.PathLike[str]) -> str:
    """The format of a file, from its name (``.nt.xz`` is N-Triples) and, for JSON Lines,
    its first line (history archive or graph snapshot); a directory is CSV."""
    p = Path(path)
    if p.is_dir():
        return "csv"
    name = p.name.lower()
    for suffix in (".gz", ".xz"):
        name = name.removesuffix(suffix)
    ext = name.rsplit(".", 1)[-1] if "." in name else ""
    fmt = _EXTENSIONS.get(ext)
    if fmt is None:
        raise InvalidValue(f"cannot tell the format of {p.name!r} from its name; pass "
                           f"--format (one of {', '.join(FORMATS)})")
    if fmt == "jsonl" and p.is_file() and _is_archive(_head(p)):
        return "archive"
    return fmt


def _csv_files(path: Path) -> list[Path]:
    if not path.is_dir():
        return [path]
    found = [path / n for n in ("entities.csv", "relations.csv") if (path / n).exists()]
    if not found:
        raise InvalidInput("the directory holds neither entities.csv nor relations.csv",
                           source=str(path))
    return found


def read_snapshot(path: str | os.PathLike[str], format: str | None = None, *,
                  skip_invalid: bool = False, prefixes: Mapping[str, str] | None = None,
                  base_iri: str | None = None) -> Snapshot:
    """Read one file (any snapshot or RDF format) into a :class:`Snapshot`."""
    p = Path(path)
    fmt = normalize_format(format) or detect_format(p)
    name = p.name
    if fmt == "archive":
        raise InvalidValue(f"{name} is a history archive, not a graph; import it into an "
                           "empty repository (palimpsest import --format archive)")
    if not p.exists():
        raise InvalidInput("no such file", source=str(p))
    if fmt in RDF_FORMATS:
        from .rdf import RDFSyntaxError, parse_rdf
        try:
            graph = parse_rdf(p, format=fmt, skip_invalid=skip_invalid, prefixes=prefixes,
                              base_iri=base_iri)
        except RDFSyntaxError as exc:
            raise InvalidInput(exc.reason if exc.column is None else
                               f"column {exc.column}: {exc.reason}",
                               source=exc.source or name, line=exc.line) from None
        return as_snapshot(graph, source=name)
    if fmt == "csv":
        from .csv import read_csv
        snap = Snapshot(source=name)
        for file in _csv_files(p):
            text = _decompress(file.read_bytes(), file.name)
            try:
                content = text.decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                raise InvalidInput(f"not UTF-8 ({exc.reason})", source=file.name) from None
            read_csv(io.StringIO(content, newline=""), source=file.name,
                     skip_invalid=skip_invalid, into=snap)
        return snap
    from .jsonl import read_json, read_jsonl
    data = _decompress(p.read_bytes(), name)
    if fmt == "json":
        return read_json(data, source=name, skip_invalid=skip_invalid)
    return read_jsonl(io.BytesIO(data), source=name, skip_invalid=skip_invalid)


def import_files(repo: Repository, paths: Sequence[str | os.PathLike[str]], *,
                 format: str | None = None, mode: Mode = "replace", branch: str | None = None,
                 message: str | None = None, author: str | None = None,
                 timestamp: datetime | str | None = None,
                 metadata: Mapping[str, JSON] | None = None, skip_invalid: bool = False,
                 prefixes: Mapping[str, str] | None = None, base_iri: str | None = None,
                 progress: Progress | None = None,
                 allow_legacy: bool = False) -> ImportResult:
    """Import files as one commit (see :func:`import_graph`); an ``archive`` file loads a
    whole history into an empty repository instead (verified; ``allow_legacy`` accepts an
    archive without a trailer)."""
    if not paths:
        raise InvalidValue("give at least one file to import")
    fmt = normalize_format(format)
    formats = [fmt or detect_format(p) for p in paths]
    if "archive" in formats:
        if len(paths) != 1:
            raise InvalidValue("import one history archive at a time")
        return _import_archive(repo, Path(paths[0]), allow_legacy)
    snap = Snapshot(source=", ".join(Path(p).name for p in paths))
    for path, each in zip(paths, formats, strict=True):
        if progress is not None:
            progress(f"read {Path(path).name}", 0, 1)
        snap.update(read_snapshot(path, each, skip_invalid=skip_invalid, prefixes=prefixes,
                                  base_iri=base_iri))
        if progress is not None:
            progress(f"read {Path(path).name}", 1, 1)
    meta: dict[str, JSON] = {"import": {"files": [Path(p).name for p in paths],
                                        "format": formats[0] if len(set(formats)) == 1
                                        else formats, "mode": mode}}
    meta.update(metadata or {})
    return import_graph(repo, snap, mode=mode, branch=branch, message=message, author=author,
                        timestamp=timestamp, metadata=meta, skip_invalid=skip_invalid,
                        progress=progress)


def _import_archive(repo: Repository, path: Path, allow_legacy: bool) -> ImportResult:
    from ..maintenance.archive import import_archive
    if not path.exists():
        raise InvalidInput("no such file", source=str(path))
    try:
        records = import_archive(repo.database, os.fspath(path), allow_legacy=allow_legacy)
    except InvalidValue as exc:
        if isinstance(exc, InvalidInput):
            raise
        raise InvalidInput(str(exc), source=path.name) from None
    head = repo.log(limit=1)
    return ImportResult(head[0] if head else None, "archive", records, 0)


@dataclass(frozen=True, slots=True)
class ExportResult:
    """What an export wrote: the format, the files, and how many elements or records."""

    format: str
    files: tuple[str, ...]
    count: int
    commit: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"format": self.format, "files": list(self.files), "count": self.count,
                "commit": self.commit}


def render(repo: Repository, ref: Any = None, format: str = "jsonl", *,
           prefixes: Mapping[str, str] | None = None, drop_relation_props: bool = False
           ) -> tuple[bytes, int]:
    """The state at ``ref`` in one snapshot format (not csv, not archive), and how many
    elements it holds."""
    fmt = normalize_format(format) or "jsonl"
    view = repo.at(ref)
    snap = snapshot_of(view)
    header: dict[str, JSON] = {"commit": view.commit.id if view.commit else None}
    if isinstance(ref, str):
        header["ref"] = ref
    if fmt == "json":
        from .jsonl import json_bytes
        return json_bytes(snap, header=header), len(snap)
    if fmt == "jsonl":
        from .jsonl import jsonl_records
        return b"".join(jsonl_records(snap, header=header)), len(snap)
    if fmt in RDF_FORMATS:
        from .rdf import serialize_rdf
        rows = ((i, t, p) for i, (t, p) in sorted(snap.entities.items()))
        rels = ((i, t, s, o, p) for i, (t, s, o, p) in sorted(snap.relations.items()))
        try:
            data = serialize_rdf(rows, rels, format=fmt, prefixes=prefixes,
                                 drop_relation_props=drop_relation_props)
        except ValueError as exc:
            raise InvalidValue(f"cannot export as RDF: {exc}") from None
        return data, len(snap.entities) + len(snap.relations)
    raise InvalidValue(f"format {fmt!r} cannot be rendered into one stream")


def export_files(repo: Repository, path: str | os.PathLike[str], *, ref: Any = None,
                 format: str | None = None, prefixes: Mapping[str, str] | None = None,
                 drop_relation_props: bool = False) -> ExportResult:
    """Write the state at ``ref`` (or, for ``archive``, the history) to ``path``.

    The format comes from ``format`` or the file name; ``csv`` writes a directory holding
    ``entities.csv`` and ``relations.csv``.
    """
    target = Path(path)
    fmt = normalize_format(format)
    if fmt is None:
        fmt = "csv" if target.suffix == "" or target.is_dir() else detect_format(target)
        if fmt == "jsonl" and target.name.endswith((".archive.jsonl", ".history.jsonl")):
            fmt = "archive"
    commit = repo.resolve(ref) if ref is not None or repo.log(limit=1) else None
    cid = commit.id if commit else None
    if fmt == "archive":
        count = repo.export(target, ref)
        return ExportResult(fmt, (str(target),), count, cid)
    if fmt == "csv":
        from .csv import entities_csv, relations_csv
        snap = snapshot_of(repo.at(ref))
        target.mkdir(parents=True, exist_ok=True)
        files = (target / "entities.csv", target / "relations.csv")
        files[0].write_text(entities_csv(snap), encoding="utf-8")
        files[1].write_text(relations_csv(snap), encoding="utf-8")
        return ExportResult(fmt, tuple(str(f) for f in files),
                            len(snap.entities) + len(snap.relations), cid)
    data, count = render(repo, ref, fmt, prefixes=prefixes,
                         drop_relation_props=drop_relation_props)
    _atomic_write(target, data)
    return ExportResult(fmt, (str(target),), count, cid)


def _atomic_write(target: Path, data: bytes) -> None:
    """Write via a temporary file in the same folder, so a failed export leaves no half file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
