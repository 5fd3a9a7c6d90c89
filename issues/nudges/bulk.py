"""Set-based statements for rows composed in Python, the same on PostgreSQL and SQLite: the rows
travel as one JSON parameter, which the database unpacks (`jsonb_array_elements` on PostgreSQL,
`json_each` on SQLite 3.38 or later, whose `->` and `->>` read an element alike). A batch of a
thousand reminders is then a handful of statements, however many rows it writes, and no model
instance is built for them (Django's bulk_create spends about 0.1 ms of Python on each row).

Column names, types and defaults come from the models; only the unpacking and the casts differ
between the two databases, here and nowhere else.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from django.db import NotSupportedError, connection, models

from issues.models import Issue

Row = Sequence[Any]
Field = models.Field  # type: ignore[type-arg]


def _json_rows(vendor: str) -> str:
    """The table of the JSON parameter's elements, as `r` with one column `value`."""
    if vendor == "postgresql":
        return "jsonb_array_elements(CAST(%s AS jsonb)) AS r"
    if vendor == "sqlite":
        return "json_each(%s) AS r"
    raise NotSupportedError(f"The nudge sweep's set-based statements know no {vendor} database.")


def _typed(sql: str, field: Field) -> str:
    """`sql` as a value of `field`'s column. PostgreSQL needs the type of a parameter or of text
    read from JSON; SQLite converts by the column's affinity as it stores the value."""
    if connection.vendor == "postgresql":
        return f"CAST({sql} AS {field.db_type(connection)})"
    return sql


def _element(index: int, field: Field) -> str:
    """Element `index` of a row `r.value`: as JSON for a JSON column, else as a scalar."""
    operator = "->" if isinstance(field, models.JSONField) else "->>"
    return _typed(f"r.value {operator} {index}", field)


def _quoted(field: Field) -> str:
    return connection.ops.quote_name(str(field.column))


def _fields(model: type[models.Model], names: Sequence[str]) -> list[Field]:
    return [model._meta.get_field(name) for name in names]  # type: ignore[misc]


def _payload(fields: Sequence[Field], rows: Sequence[Row]) -> str:
    """The rows as one JSON array, each value as the database stores it for its field: only
    date-times need converting (to UTC text on SQLite, ISO 8601 for PostgreSQL to cast)."""
    moments = [n for n, f in enumerate(fields) if isinstance(f, models.DateTimeField)]
    if not moments:
        return json.dumps(rows)
    adapt = connection.ops.adapt_datetimefield_value
    converted = []
    for row in rows:
        values = list(row)
        for n in moments:
            if values[n] is not None:
                prepared = adapt(values[n])
                values[n] = prepared.isoformat() if isinstance(prepared, datetime) else str(prepared)
        converted.append(values)
    return json.dumps(converted)


@functools.cache
def _insert_statement(
    vendor: str, model: type[models.Model], columns: tuple[str, ...], returning: tuple[str, ...]
) -> tuple[str, tuple[Field, ...]]:
    """The INSERT ... SELECT for rows of these columns, and the fields of its parameters before
    the rows' (the model's other columns but its primary key, whose values are the same for
    every row)."""
    meta = model._meta
    names, expressions, others = [], [], []
    for model_field in meta.concrete_fields:
        if model_field.attname in columns:
            expressions.append(_element(columns.index(model_field.attname), model_field))
        elif model_field.primary_key:
            continue  # numbered by the database
        else:
            expressions.append(_typed("%s", model_field))
            others.append(model_field)
        names.append(_quoted(model_field))
    sql = (
        f"INSERT INTO {connection.ops.quote_name(meta.db_table)} ({', '.join(names)}) "  # noqa: S608 (the model's names)
        f"SELECT {', '.join(expressions)} FROM {_json_rows(vendor)} "
        f"RETURNING {', '.join(_quoted(f) for f in _fields(model, returning))}"
    )
    return sql, tuple(others)


def insert_rows(
    model: type[models.Model],
    *,
    columns: Sequence[str],
    rows: Sequence[Row],
    constants: Mapping[str, Any],
    returning: Sequence[str] = ("id",),
) -> list[tuple[Any, ...]]:
    """INSERT the rows (values of `columns`, by attname) in one statement; `constants` are the
    same for every row; every other column takes its field's default. Returns the `returning`
    columns of the new rows."""
    if not rows:
        return []
    sql, others = _insert_statement(connection.vendor, model, tuple(columns), tuple(returning))
    unknown = set(constants) - {f.attname for f in others}
    if unknown:
        raise ValueError(f"{model._meta.label} has no other column(s) {sorted(unknown)}")
    params = [
        f.get_db_prep_save(constants[f.attname] if f.attname in constants else f.get_default(), connection)
        for f in others
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, _payload(_fields(model, columns), rows)])
        return [tuple(found) for found in cursor.fetchall()]


@functools.cache
def _claim_statement(vendor: str) -> str:
    table = connection.ops.quote_name(Issue._meta.db_table)
    pk, cursor, reminders, updated = _fields(Issue, ("id", "next_nudge_at", "reminders_sent", "updated_at"))
    return (
        f"UPDATE {table} SET {_quoted(cursor)} = {_element(2, cursor)}, "  # noqa: S608 (the model's names)
        f"{_quoted(reminders)} = {table}.{_quoted(reminders)} + 1, {_quoted(updated)} = {_typed('%s', updated)} "
        f"FROM {_json_rows(vendor)} "
        f"WHERE {table}.{_quoted(pk)} = {_element(0, pk)} AND {table}.{_quoted(cursor)} = {_element(1, cursor)} "
        f"RETURNING {_quoted(pk)}"
    )


def claim_cursors(rows: Sequence[tuple[int, datetime, datetime]], *, now: datetime) -> set[int]:
    """Claim issues for a reminder: for each (id, next_nudge_at as read, the next reminder's
    time), one conditional UPDATE (compare-and-set on the next_nudge_at read) moves the cursor on
    and counts the reminder. An issue whose cursor changed since it was read (another sweep, or
    a person who started or ended its wait) is not claimed. Returns the ids claimed."""
    if not rows:
        return set()
    pk, cursor, updated = _fields(Issue, ("id", "next_nudge_at", "updated_at"))
    params = [updated.get_db_prep_save(now, connection), _payload((pk, cursor, cursor), rows)]
    with connection.cursor() as db:
        db.execute(_claim_statement(connection.vendor), params)
        return {int(found) for (found,) in db.fetchall()}
