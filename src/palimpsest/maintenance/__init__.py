"""Maintenance of whole repositories: integrity checks (``fsck``), retention and gc,
erasure, the history archive, backups and restore, and copying between backends.

Layer 5, above the versioning core it works on. The package imports none of its modules
here, so that importing one of them does not pull in the others (and the import graph stays
acyclic: ``restore`` needs ``repository``, which needs ``fsck``)."""
