"""Queries at any state: filters, projection, ordering, aggregation, declared indexes and
materialized views (docs/query.md)."""

from __future__ import annotations

from ..types import IndexInfo, ViewInfo
from .aggregate import Agg
from .engine import Query
from .filters import F, Field, Filter, and_, not_, or_

__all__ = ["Agg", "F", "Field", "Filter", "IndexInfo", "Query", "ViewInfo", "and_", "not_",
           "or_"]
