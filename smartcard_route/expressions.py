"""Database expressions the apps share (plumbing: no app's models)."""

from __future__ import annotations

from typing import Any

from django.db.models import BooleanField, F, Func, QuerySet, Subquery


class InIds(Func):
    """`column IN (subquery)` as a condition that an index on the column serves, even inside an OR.

    On PostgreSQL it is `column = ANY(ARRAY(subquery))`: the subquery runs once, before the scan
    (an InitPlan), and its ids become an index condition, so `InIds(a) | InIds(b)` is two index
    scans joined in a bitmap. A plain `column IN (subquery)` ORed with another condition cannot be
    turned into a join, so PostgreSQL reads the whole table and tests each row against the
    subquery's hashed result. Elsewhere (SQLite) it is the plain `IN (subquery)`.

        Issue.objects.filter(InIds("pharmacy_id", Pharmacy.objects.filter(...).values("pk")))
    """

    output_field = BooleanField()
    template = "%(expressions)s"
    arg_joiner = " IN "

    def __init__(self, column: str, ids: QuerySet[Any], **extra: Any) -> None:
        super().__init__(F(column), Subquery(ids), **extra)

    def as_postgresql(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        extra_context.update(arg_joiner=" = ANY(ARRAY", template="%(expressions)s)")
        return self.as_sql(compiler, connection, **extra_context)


class SortedAfterFilter(Func):
    """A column to order by, written so that PostgreSQL sorts the rows its filter found rather than
    walk an index in this order and test every row against the filter.

    When the filter's size cannot be known as the query is planned (ids from a subquery, as in the
    issues' scope), PostgreSQL guesses it, and for a small set in a large table it may walk an
    index in the order asked for, expecting to meet a page of matching rows soon: for a pharmacy's
    95 issues among a million, that walks the whole index. `COALESCE(column, column)` has the
    column's value and order but matches no index, so the plan is the filter's own index scan and
    a sort of its rows. Elsewhere (SQLite) it is the plain column.

        issues.order_by(SortedAfterFilter("created_at").desc(), "-pk")
    """

    template = "%(expressions)s"

    def __init__(self, column: str, **extra: Any) -> None:
        super().__init__(F(column), **extra)

    def as_postgresql(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        extra_context.update(template="COALESCE(%(expressions)s, %(expressions)s)")
        return self.as_sql(compiler, connection, **extra_context)
