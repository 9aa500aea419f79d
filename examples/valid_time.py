"""Valid time with branches: the facts' own clock beside the commits' clock (docs/valid-time.md).

Alice worked at Acme from 2020 to 2023; we learned it in 2024; we corrected the end date in
2025. Each question is asked in both clocks: as we know it now, and as we knew it in March 2024.
"""

import palimpsest

repo = palimpsest.open(":memory:")
with repo.transaction("What we learned", timestamp="2024-02-01") as tx:
    tx.put_entity("alice", "Person")
    tx.put_entity("acme", "Company")
    tx.put_entity("globex", "Company")
    tx.put_relation("alice@acme", "worksAt", "alice", "acme",
                    valid_from="2020-01-01", valid_to="2023-01-01")   # [from, to): to excluded
    tx.put_relation("alice@globex", "worksAt", "alice", "globex", valid_from="2023-01-01")
with repo.transaction("Correction: she left Acme in April", timestamp="2025-01-15") as tx:
    tx.update_relation("alice@acme", valid_to="2023-04-01")
    tx.update_relation("alice@globex", valid_from="2023-04-01")

now, then = repo.head(), repo.at("main@2024-03-01")    # transaction time: a ref or a time
for view in (now, then):
    june_2022 = view.valid_at("2022-06-01")             # valid time: when it held
    feb_2023 = view.valid_at("2023-02-01")
    print([r.target for r in june_2022.relations(source="alice")],    # 1. employer in 6/2022
          [r.target for r in feb_2023.relations(source="alice")],     # 2. employer in 2/2023
          [r.source for r in view.valid_at("2023-03-15").relations(target="acme")])  # 3.
for version in repo.history("alice@acme", element="relation"):       # both clocks at once
    print(version.commit.timestamp.date(), version.commit.message, "->",
          version.value.valid_from.date(), version.value.valid_to.date())
