"""Database expressions the apps share (plumbing: no app's models)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import BooleanField, Expression, F, Func, QuerySet, Subquery


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


class InList(Expression):
    """`column IN (ids)` for ids already read, as one parameter: on PostgreSQL `column = ANY(%s::type[])`
    with the ids as an array, so the SQL is the same however many there are (an owner's 2,000
    pharmacies are one parameter, not 2,000 to write), and PostgreSQL plans with the ids
    themselves. Elsewhere (SQLite) the plain `IN (%s, ...)`; no ids matches nothing.

        Issue.objects.filter(InList("pharmacy_id", [12, 40]))
    """

    output_field = BooleanField()
    conditional = True

    def __init__(self, column: str | F, ids: Any) -> None:
        super().__init__()
        self.column: Any = F(column) if isinstance(column, str) else column
        self.ids = sorted(set(ids))

    def get_source_expressions(self) -> list[Any]:
        return [self.column]

    def set_source_expressions(self, exprs: Any) -> None:
        (self.column,) = exprs

    def as_sql(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        sql, params = compiler.compile(self.column)
        if not self.ids:
            return "1 = 0", []
        marks = ", ".join(["%s"] * len(self.ids))
        return f"{sql} IN ({marks})", [*params, *self.ids]

    def as_postgresql(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        # The array is cast to the column's own type: the ids arrive as an integer[], and against
        # a bigint column `= ANY` then compares across types, which PostgreSQL does not hash, so
        # where the ids are a filter rather than an index condition it tested each row against
        # every id (836 ids over 16,000 rows: 47 ms, against 2.5 ms for the same ids hashed).
        sql, params = compiler.compile(self.column)
        db_type = self.column.output_field.cast_db_type(connection)  # resolved by now: a Col
        return f"{sql} = ANY(%s::{db_type}[])", [*params, self.ids]


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


class CompiledOnce:
    """A query of every request, written by the ORM once per database and then run as its SQL.

    Building and compiling a queryset costs far more Python than the database spends on a small
    query (the user's memberships: about 1.5 ms to write, 0.1 ms to run). `build(*ids)` must give
    the same SQL whatever the ids, with the ids among its parameters (each as often as it likes)
    and nothing else that changes: the first run builds it with two sets of sentinel ids, compares
    them and refuses a query in which anything but the ids' places differs.

        memberships = CompiledOnce(lambda user_id: User.objects.filter(pk=user_id).values(...))
        row = memberships.row(user.pk)   # the first row as a tuple, or None
        rows = memberships.rows(user.pk)  # every row
    """

    _FIRST = -7_349_126_551
    _SECOND = -5_118_403_227

    def __init__(self, build: Callable[..., QuerySet[Any]], ids: int = 1) -> None:
        self._build = build
        self._ids = ids
        self._sql: dict[str, tuple[str, tuple[Any, ...], tuple[tuple[int, int], ...]]] = {}

    def sentinels(self, base: int) -> tuple[int, ...]:
        return tuple(base - 1_000 * place for place in range(self._ids))

    def _compiled(self, using: str) -> tuple[str, tuple[Any, ...], tuple[tuple[int, int], ...]]:
        compiled = self._sql.get(using)
        if compiled is None:
            first, second = self.sentinels(self._FIRST), self.sentinels(self._SECOND)
            sql, params = self._build(*first).query.get_compiler(using=using).as_sql()
            other_sql, other_params = self._build(*second).query.get_compiler(using=using).as_sql()
            # (index of the parameter, which id goes there)
            places = tuple((index, first.index(param)) for index, param in enumerate(params) if param in first)
            expected = list(params)
            for index, which in places:
                expected[index] = second[which]
            if (
                sql != other_sql
                or list(other_params) != expected
                or {which for _, which in places} != set(range(self._ids))
            ):
                raise ValueError(f"CompiledOnce: {sql!r} does not depend on the ids alone ({params!r})")
            compiled = self._sql[using] = (sql, tuple(params), places)
        return compiled

    def row(self, *ids: int, using: str = DEFAULT_DB_ALIAS) -> tuple[Any, ...] | None:
        """The first row, as a tuple (None: no row)."""
        rows = self.rows(*ids, using=using, first=True)
        return rows[0] if rows else None

    def rows(self, *ids: int, using: str = DEFAULT_DB_ALIAS, first: bool = False) -> list[tuple[Any, ...]]:
        """Every row, as tuples (only the first when `first`)."""
        if len(ids) != self._ids:
            raise TypeError(f"CompiledOnce: {self._ids} ids expected, {len(ids)} given")
        sql, params, places = self._compiled(using)
        values = list(params)
        for index, which in places:
            values[index] = ids[which]
        with connections[using].cursor() as cursor:
            cursor.execute(sql, values)
            if first:
                row = cursor.fetchone()
                return [row] if row is not None else []
            return list(cursor.fetchall())
