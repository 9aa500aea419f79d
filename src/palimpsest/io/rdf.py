"""RDF <-> property-graph mapping: pure functions, no repository dependency (see docs/rdf.md).

* **Names.** An IRI under a namespace of :data:`WELL_KNOWN_PREFIXES` or of ``prefixes``
  (longest wins) is ``prefix:local``: ``schema:`` is ``https://schema.org/``,
  ``schema_http:`` is ``http://schema.org/``. Under ``prefixes[""]`` it is the bare local
  part if that matches ``[A-Za-z0-9_][^\\s:]*``. An IRI whose scheme is a prefix name is
  ``<iri>``; any other IRI is kept as is; blank nodes are ``_:label``. Expansion inverts this.
* **Entities.** Each subject, and each object IRI or blank node (except of ``rdf:type``),
  is an entity named as above. An id over :data:`MAX_ID_BYTES` bytes is ``<first 200
  bytes> ~<blake2b-128 hex>`` with the IRI in property ``@iri``. Blank labels are kept;
  anonymous blank nodes become ``_:anon0``, ``_:anon1``... in order of first appearance
  (skipping labels in use). An object that is never a subject has type :data:`PLACEHOLDER`.
* **Types.** The smallest ``rdf:type`` name (code-point order) is the entity type; with
  several, ``@types`` lists them all, sorted. No ``rdf:type``: type :data:`UNTYPED`.
  Types starting with ``@`` produce no triples. A type over :data:`MAX_ID_BYTES` is
  shortened like an id (``@types`` then lists the full name; names with spaces emit nothing).
* **Properties.** A literal is a property keyed by the predicate name: ``xsd:string`` as a
  bare string, else ``{"@value", "@language"[, "@direction"]}`` or ``{"@value", "@type"}``.
  Several values: a list sorted by (value, language, datatype, direction), no duplicates.
  Keys starting with ``@`` are reserved.
* **Relations.** An IRI or blank-node object is a relation of type = predicate name, id
  ``"<subject> <predicate> <object>"``, or ``~<blake2b-128 hex>`` of the three names when
  that exceeds :data:`MAX_ID_BYTES` or a name contains a space. No properties, except
  ``@iri`` (the predicate IRI) when the type had to be shortened like an id.

``serialize_rdf`` inverts ``parse_rdf`` and also takes plain JSON: bool, int and float as
``xsd:boolean``/``xsd:integer``/``xsd:double``, other values as ``rdf:JSON`` literals.
"""

from __future__ import annotations

import gzip
import hashlib
import lzma
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import TypeAlias

import orjson
import pyoxigraph as ox

from ..query.rdfnames import WELL_KNOWN_PREFIXES
from ..query.rdfnames import Names as _Names

__all__ = ["JSON", "MAX_ID_BYTES", "PLACEHOLDER", "UNTYPED", "WELL_KNOWN_PREFIXES",
           "GraphData", "RDFSyntaxError", "parse_rdf", "serialize_rdf"]

JSON: TypeAlias = bool | int | float | str | list["JSON"] | dict[str, "JSON"] | None

MAX_ID_BYTES = 512
UNTYPED = "@untyped"
PLACEHOLDER = "@ref"
_RDF, _XSD = WELL_KNOWN_PREFIXES["rdf"], WELL_KNOWN_PREFIXES["xsd"]
_RDF_TYPE, _XSD_STRING = _RDF + "type", _XSD + "string"
_CTRL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_LABEL = re.compile(rb"_:([^\s;,()\[\]{}<>\"']+)|nodeID\s*=\s*[\"']([^\"']+)")
_LINE_FORMATS = (ox.RdfFormat.N_TRIPLES, ox.RdfFormat.N_QUADS)
_ALIASES = {"ntriples": "nt", "n-triples": "nt", "nquads": "nq", "n-quads": "nq", "turtle": "ttl",
            "owl": "rdf", "rdfxml": "rdf", "rdf/xml": "rdf", "rdf-xml": "rdf", "json-ld": "jsonld"}
_MAX_KEPT_ERRORS = 100


class RDFSyntaxError(ValueError):
    """Malformed RDF input; ``line`` and ``column`` are 1-based (None when unknown)."""

    def __init__(self, reason: str, line: int | None = None, column: int | None = None,
                 source: str | None = None) -> None:
        self.reason, self.line, self.column, self.source = reason, line, column, source
        where = ":".join(str(x) for x in (source, line, column) if x is not None)
        super().__init__(f"{where}: {reason}" if where else reason)

    @classmethod
    def from_syntax_error(cls, exc: SyntaxError, source: str | None,
                          line_offset: int = 0) -> RDFSyntaxError:
        """The error pyoxigraph raised, with its position (lines shifted by
        ``line_offset``) and ``source`` named."""
        msg = str(exc.msg)
        reason = msg.split(": ", 1)[1] if msg.startswith("Parser error") and ": " in msg else msg
        line = None if exc.lineno is None else exc.lineno + line_offset
        return cls(reason, line, exc.offset, source)


@dataclass(frozen=True, slots=True)
class GraphData:
    """A property graph: ``entities[id] = (type, props)``,
    ``relations[id] = (type, source, target, props)``. ``skipped`` counts the syntax
    errors skipped with ``skip_invalid=True``; ``errors`` keeps the first 100."""

    entities: dict[str, tuple[str, dict[str, JSON]]]
    relations: dict[str, tuple[str, str, str, dict[str, JSON]]]
    skipped: int = field(default=0, compare=False)
    errors: tuple[RDFSyntaxError, ...] = field(default=(), compare=False)

    def entity_rows(self) -> Iterator[tuple[str, str, dict[str, JSON]]]:
        """``(id, type, props)`` tuples, as ``serialize_rdf`` takes them."""
        return ((eid, etype, props) for eid, (etype, props) in self.entities.items())

    def relation_rows(self) -> Iterator[tuple[str, str, str, str, dict[str, JSON]]]:
        """``(id, type, source, target, props)`` tuples, as ``serialize_rdf`` takes them."""
        return ((rid, *rel) for rid, rel in self.relations.items())


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def _too_long(name: str) -> bool:  # cheap test first: a character is at most 4 UTF-8 bytes
    return len(name) * 4 > MAX_ID_BYTES and len(name.encode()) > MAX_ID_BYTES


def _shorten(name: str) -> str:
    """``name`` itself, or ``<first 200 bytes> ~<hash>`` when it is too long for an id."""
    if not _too_long(name) and not _CTRL.search(name):
        return name
    return f"{_CTRL.sub('', name.encode()[:200].decode(errors='ignore'))} ~{_digest(name)}"


def _literal(lit: ox.Literal, names: _Names) -> JSON:
    if lit.language is not None:
        value: dict[str, JSON] = {"@value": lit.value, "@language": lit.language}
        if lit.direction is not None:
            value["@direction"] = str(lit.direction)
        return value
    datatype = lit.datatype.value
    if datatype == _XSD_STRING:
        return lit.value
    return {"@value": lit.value, "@type": names.compact(datatype)}


def _value_key(value: JSON) -> tuple[str, str, str, str]:
    if isinstance(value, dict):
        return (str(value["@value"]), str(value.get("@language", "")),
                str(value.get("@type", "")), str(value.get("@direction", "")))
    return (str(value), "", "", "")


def _lookup(name: str) -> ox.RdfFormat | None:
    name = _ALIASES.get(name.lower(), name)
    return ox.RdfFormat.from_extension(name) or ox.RdfFormat.from_media_type(name)


def _format(format: str | ox.RdfFormat | None, name: str | None, text: bytes) -> ox.RdfFormat:
    if isinstance(format, ox.RdfFormat):
        return format
    fmt = _lookup(format) if format is not None else None
    if format is not None and fmt is None:
        raise ValueError(f"unknown RDF format {format!r}")
    if fmt is None and name is not None and "." in name.removesuffix(".xz").removesuffix(".gz"):
        fmt = _lookup(name.removesuffix(".xz").removesuffix(".gz").rsplit(".", 1)[1])
    if fmt is None:  # sniff: RDF/XML, JSON-LD, else Turtle (which also reads N-Triples)
        head = text[:256].lstrip()
        if head.startswith((b"<?xml", b"<rdf:RDF")):
            return ox.RdfFormat.RDF_XML
        return ox.RdfFormat.JSON_LD if head.startswith(b"{") else ox.RdfFormat.TURTLE
    return fmt


def _read(data: bytes | str | PathLike[str]) -> tuple[bytes, str | None]:
    if isinstance(data, str):
        return data.encode(), None
    name = None
    if not isinstance(data, bytes):
        name = Path(data).name
        data = Path(data).read_bytes()
    try:
        if data.startswith(b"\xfd7zXZ\x00"):
            data = lzma.decompress(data)
        elif data.startswith(b"\x1f\x8b"):
            data = gzip.decompress(data)
    except (lzma.LZMAError, OSError, EOFError) as exc:
        raise RDFSyntaxError(f"cannot decompress: {exc}", source=name) from None
    return data, name


def _quads(text: bytes, fmt: ox.RdfFormat, base_iri: str | None, source: str | None,
           errors: list[RDFSyntaxError] | None) -> Iterator[ox.Quad]:
    """Quads of the default graph; errors raise, or are appended to ``errors``."""

    def parse(chunk: bytes) -> ox.QuadParser:
        return ox.parse(chunk, fmt, base_iri=base_iri, without_named_graphs=True)

    if errors is None:
        try:
            yield from parse(text)
        except SyntaxError as exc:
            raise RDFSyntaxError.from_syntax_error(exc, source) from None
        return
    if fmt in _LINE_FORMATS:  # one statement per line: try the whole, then line by line
        try:
            yield from list(parse(text))
            return
        except SyntaxError:
            pass
        for number, line in enumerate(text.split(b"\n")):
            try:
                yield from list(parse(line))
            except SyntaxError as exc:
                errors.append(RDFSyntaxError.from_syntax_error(exc, source, number))
        return
    parser, last = parse(text), None
    while True:
        try:
            yield next(parser)
        except StopIteration:
            return
        except SyntaxError as exc:
            err = RDFSyntaxError.from_syntax_error(exc, source)
            if last is not None and (err.line, err.column, err.reason) == last:
                return  # the parser is not making progress
            last = (err.line, err.column, err.reason)
            errors.append(err)


def parse_rdf(data: bytes | str | PathLike[str], *, format: str | ox.RdfFormat | None = None,
              base_iri: str | None = None, prefixes: Mapping[str, str] | None = None,
              skip_invalid: bool = False) -> GraphData:
    """Map an RDF graph to :class:`GraphData`.

    ``data`` is the content (``bytes`` or ``str``) or a path (``Path``/``PathLike``);
    xz and gzip content is decompressed. ``format`` is a name (``nt``, ``ttl``, ``nq``,
    ``trig``, ``n3``, ``rdf``, ``jsonld``), a media type or an ``RdfFormat``; by default
    it comes from the file name, else XML and JSON-LD are sniffed, else Turtle (which also
    reads N-Triples). Raises :class:`RDFSyntaxError` on malformed input unless
    ``skip_invalid``, which skips bad statements (each bad line for N-Triples and
    N-Quads) and counts them in ``GraphData.skipped``. Named graphs are rejected.
    """
    text, source = _read(data)
    fmt = _format(format, source, text)
    names = _Names(prefixes)
    errors: list[RDFSyntaxError] | None = [] if skip_invalid else None
    ids: dict[object, str] = {}  # RDF node -> entity id
    long_iris: dict[str, str] = {}
    labels: set[str] | None = None
    anon = 0
    subjects: dict[str, tuple[set[str], dict[str, list[JSON]]]] = {}
    relations: dict[str, tuple[str, str, str, dict[str, JSON]]] = {}
    objects: dict[str, None] = {}

    def node_id(node: object) -> str:
        nonlocal labels, anon
        if isinstance(node, ox.NamedNode):
            eid = names.compact(node.value)
        elif isinstance(node, ox.BlankNode):
            if labels is None:
                labels = {(a or b).decode(errors="replace").rstrip(".")
                          for a, b in _LABEL.findall(text)}
            eid = "_:" + node.value
            if node.value not in labels:
                while f"anon{anon}" in labels:
                    anon += 1
                eid, anon = f"_:anon{anon}", anon + 1
        else:
            raise RDFSyntaxError(f"unsupported RDF term {node!r}", source=source)
        if (short := _shorten(eid)) != eid:
            if isinstance(node, ox.NamedNode):
                long_iris[short] = node.value
            else:
                short = "_:h" + _digest(eid)
            eid = short
        ids[node] = eid
        return eid

    compact, literal_string = names.compact, ox.NamedNode(_XSD_STRING)
    rtypes: dict[str, str] = {}  # predicate name -> relation type (shortened once)
    for quad in _quads(text, fmt, base_iri, source, errors):
        subject = ids.get(quad.subject) or node_id(quad.subject)
        entry = subjects.get(subject)
        if entry is None:
            entry = subjects[subject] = (set(), {})
        obj, predicate = quad.object, quad.predicate.value
        if type(obj) is ox.Literal:
            value = (obj.value if obj.language is None and obj.datatype == literal_string
                     else _literal(obj, names))
            entry[1].setdefault(compact(predicate), []).append(value)
        elif predicate == _RDF_TYPE and type(obj) is not ox.Triple:
            entry[0].add(compact(obj.value) if type(obj) is ox.NamedNode else node_id(obj))
        else:
            pname = compact(predicate)
            target = ids.get(obj) or node_id(obj)
            rid = f"{subject} {pname} {target}"
            if _too_long(rid) or " " in subject or " " in target:
                rid = "~" + _digest(f"{subject}\n{pname}\n{target}")
            rtype = rtypes.get(pname)
            if rtype is None:
                rtype = rtypes[pname] = _shorten(pname)
            relations[rid] = (rtype, subject, target, {} if rtype == pname else {"@iri": predicate})
            objects[target] = None

    entities: dict[str, tuple[str, dict[str, JSON]]] = {}
    for eid, (types, raw_props) in subjects.items():
        props: dict[str, JSON] = {}
        for key in sorted(raw_props):
            values = raw_props[key]
            if len(values) > 1:
                unique = {_value_key(v): v for v in values}
                values = [unique[k] for k in sorted(unique)]
            props[key] = values[0] if len(values) == 1 else values
        ordered: list[JSON] = [*sorted(types)]
        etype = _shorten(str(ordered[0])) if ordered else UNTYPED
        if len(ordered) > 1 or (ordered and etype != ordered[0]):
            props["@types"] = ordered
        if eid in long_iris:
            props["@iri"] = long_iris[eid]
        entities[eid] = (etype, props)
    for eid in objects:
        if eid not in entities:
            entities[eid] = (PLACEHOLDER, {"@iri": long_iris[eid]} if eid in long_iris else {})
    n_errors = len(errors or ())
    return GraphData(entities, relations, n_errors, tuple((errors or [])[:_MAX_KEPT_ERRORS]))


def _to_literal(value: object, names: _Names) -> ox.Literal:
    if isinstance(value, str):
        return ox.Literal(value)
    if isinstance(value, bool):
        return ox.Literal("true" if value else "false", datatype=ox.NamedNode(_XSD + "boolean"))
    if isinstance(value, int):
        return ox.Literal(str(value), datatype=ox.NamedNode(_XSD + "integer"))
    if isinstance(value, float):
        return ox.Literal(repr(value), datatype=ox.NamedNode(_XSD + "double"))
    if isinstance(value, dict) and isinstance(value.get("@value"), str):
        keys = set(value) - {"@value"}
        if keys <= {"@language", "@direction"} and "@language" in keys:
            direction = value.get("@direction")
            return ox.Literal(value["@value"], language=str(value["@language"]),
                              direction=None if direction is None else ox.BaseDirection(direction))
        if keys == {"@type"} and isinstance(value["@type"], str):
            return ox.Literal(value["@value"], datatype=ox.NamedNode(names.expand(value["@type"])))
    text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    return ox.Literal(text, datatype=ox.NamedNode(_RDF + "JSON"))


def serialize_rdf(entities: Iterable[tuple[str, str, Mapping[str, object]]],
                  relations: Iterable[tuple[str, str, str, str, Mapping[str, object]]], *,
                  format: str | ox.RdfFormat = "nt", prefixes: Mapping[str, str] | None = None,
                  drop_relation_props: bool = False) -> bytes:
    """Serialize entities ``(id, type, props)`` and relations ``(id, type, source, target,
    props)`` to RDF, inverting :func:`parse_rdf` (same ``prefixes``). N-Triples and
    N-Quads output is sorted by line; other formats group triples by subject in id order.
    Names that do not expand to IRIs raise ``ValueError``, and so do relation properties
    (RDF triples cannot hold them) unless ``drop_relation_props``.
    """
    names = _Names(prefixes)
    fmt = _format(format, None, b"")
    by_subject: dict[str, list[ox.Triple]] = {}
    rdf_type, named = ox.NamedNode(_RDF_TYPE), names.named
    for eid, etype, props in entities:
        iri = props.get("@iri")
        if isinstance(iri, str):
            names.terms[eid] = ox.NamedNode(iri)
        subject, out = names.term(eid), by_subject.setdefault(eid, [])
        extra = props.get("@types", [])
        if not isinstance(extra, list) or not all(isinstance(t, str) for t in extra):
            raise ValueError(f"entity {eid!r}: @types must be a list of strings")
        for t in sorted({etype, *extra}):
            if not t.startswith("@") and " " not in t:  # markers, shortened names
                out.append(ox.Triple(subject, rdf_type, names.term(t)))
        for key in sorted(props):
            if key in ("@types", "@iri"):
                continue
            if key.startswith("@"):
                raise ValueError(f"entity {eid!r}: property {key!r} is reserved")
            predicate, value = named(key), props[key]
            for item in value if isinstance(value, list) else [value]:
                out.append(ox.Triple(subject, predicate, _to_literal(item, names)))
    for rid, rtype, source, target, rprops in relations:
        iri = rprops.get("@iri")
        if set(rprops) - {"@iri"} and not drop_relation_props:
            raise ValueError(f"relation {rid!r} has properties, which RDF triples cannot hold; "
                             "pass drop_relation_props=True to omit them")
        predicate = ox.NamedNode(iri) if isinstance(iri, str) else named(rtype)
        by_subject.setdefault(source, []).append(
            ox.Triple(names.term(source), predicate, names.term(target)))
    triples = [t for eid in sorted(by_subject) for t in by_subject[eid]]
    items: list[ox.Triple] | list[ox.Quad] = triples
    if fmt.supports_datasets:
        items = [ox.Quad(t.subject, t.predicate, t.object) for t in triples]
    used = {p: names.table[p] for p in sorted(names.used)}
    data = ox.serialize(items, format=fmt, prefixes=used) or b""
    if fmt in _LINE_FORMATS:
        data = b"".join(sorted(data.splitlines(keepends=True)))
    return data
