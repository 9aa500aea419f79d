"""SPARQL at any version (README: "SPARQL at any version"; docs/sparql.md)."""

import palimpsest

repo = palimpsest.open(":memory:")
repo.put_entity("ex:ada", type="ex:Person", props={"ex:name": "Ada", "ex:born": 1815})
repo.tag("v1")
repo.update_entity("ex:ada", {"ex:born": 1816})
ex = {"ex": "http://example.org/"}
query = "SELECT ?who ?year WHERE { ?who a ex:Person ; ex:born ?year } ORDER BY ?year"
for ref in ("v1", "main"):                                   # any branch, tag, commit or time
    rows = repo.sparql(query, ref=ref, prefixes=ex)           # pyoxigraph terms
    print(ref, [(row["who"].value, row["year"].value) for row in rows])
print(repo.sparql('ASK { ex:ada ex:name "Ada" }', prefixes=ex))      # True
print(rows.serialize("csv").decode().splitlines()[0])         # also "json", "xml", "tsv"
changed = "SELECT ?y WHERE { GRAPH <palimpsest:ref/v1> { ex:ada ex:born ?y } MINUS { ex:ada ex:born ?y } }"
print([row["y"].value for row in repo.sparql(changed, prefixes=ex)])  # ['1815']: true in v1, not now
