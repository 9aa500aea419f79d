"""Quick start: the three questions a knowledge-graph owner asks, answered in a dozen lines.

Run it: python examples/quickstart.py   (tests/test_examples.py runs it too)
"""

import palimpsest

repo = palimpsest.open(":memory:")  # or a file: palimpsest.open("kg.db")

with repo.transaction(message="Import people", author="alice@example.com",
                      timestamp="2026-01-10T09:00:00Z") as tx:
    tx.put_entity("ada", type="Person", props={"name": "Ada Lovelace", "born": 1815})
    tx.put_entity("babbage", type="Person", props={"name": "Charles Babbage"})
    tx.put_relation("ada-knows-babbage", type="KNOWS", source="ada", target="babbage")
repo.tag("reviewed")
repo.update_entity("ada", {"born": 1816}, message="LLM extraction run", author="bot@example.com",
                   timestamp="2026-02-03T14:00:00Z")

# 1. What did the graph look like last month?
print(repo.at("2026-01-31").entity("ada").props)      # {'born': 1815, 'name': 'Ada Lovelace'}

# 2. Who changed this entity or its relations, when and why?
for version in repo.history("ada"):                   # newest first; relations="out" by default
    print(version.commit.author, version.commit.timestamp, version.commit.message,
          version.element, version.id)
print(repo.blame("ada")["born"].commit.author)        # bot@example.com

# 3. Restore the graph to before that bad change (a new commit; history is kept).
print(repo.diff("reviewed", "main").to_json_patch())  # [{'op': 'replace', ...}]
repo.rollback("reviewed", message="Undo bad extraction")
print(repo.head().entity("ada").props["born"])        # 1815
