"""Clone, fetch, pull and push between repositories (docs/sync.md): negotiation over commit
ids (:mod:`.pack`), the other side (:mod:`.peer`), remotes (:mod:`.remotes`), the operations
(:mod:`.engine`)."""
