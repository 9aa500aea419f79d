"""openCypher at any version (README: "Cypher at any version"; docs/cypher.md)."""

import palimpsest

repo = palimpsest.open(":memory:")
with repo.transaction("people") as tx:
    tx.put_entity("ada", "Person", {"name": "Ada", "born": 1815})
    tx.put_entity("bob", "Person", {"name": "Bob", "born": 1820.0})
    tx.put_relation("k1", "KNOWS", "ada", "bob", {"since": 1833})
repo.tag("v1")
repo.delete_relation("k1")
query = "MATCH (a:Person)-[k:KNOWS]->(b) WHERE a.name = $name RETURN b.name AS friend, b.born"
for ref in ("v1", "main"):                                   # any branch, tag, commit or time
    print(ref, repo.at(ref).cypher(query, {"name": "Ada"}).rows)
counted = repo.at("v1").cypher("MATCH (p:Person) RETURN count(*) AS n, collect(p.born) AS born")
print(counted.columns, sorted(counted.rows[0][1]))           # 1815 stays an int, 1820.0 a float
