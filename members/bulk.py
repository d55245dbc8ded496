"""Writing many new rows at once: PostgreSQL's COPY where it runs, bulk_create elsewhere."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection
from django.db.models import Field, JSONField, Model
from django.utils import timezone
from psycopg.types.json import Jsonb


def insert_rows(objects: Iterable[Model], *, with_ids: bool = False) -> None:
    """Write new rows in bulk: with PostgreSQL's COPY (several times faster than INSERT for
    a register's worth of rows), elsewhere with bulk_create. `with_ids`: the objects get
    their ids (taken from the table's sequence first, for COPY)."""
    rows = list(objects)
    if not rows:
        return
    model = type(rows[0])
    if connection.vendor != "postgresql":
        model._default_manager.bulk_create(rows)
        return
    table = model._meta.db_table
    if with_ids:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [table, len(rows)],
            )
            for row, (pk,) in zip(rows, cursor.fetchall(), strict=True):
                row.pk = pk
    fields = [f for f in model._meta.concrete_fields if with_ids or not f.primary_key]
    now = timezone.now()
    for field in fields:  # the objects carry the stamps written
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            for row in rows:
                setattr(row, field.attname, now)
    _copy(model, fields, ([row.__dict__[f.attname] for f in fields] for row in rows))


def insert_values(
    model: type[Model], names: Sequence[str], values: Iterable[Sequence[Any]]
) -> None:
    """Write new rows given as tuples of the fields `names` (attnames), without a model
    instance per row (200,000 of them cost seconds); the other fields take their defaults."""
    if connection.vendor != "postgresql":
        model._default_manager.bulk_create(
            (model(**dict(zip(names, row, strict=True))) for row in values), batch_size=2000
        )
        return
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    position = {name: i for i, name in enumerate(names)}
    now = timezone.now()
    defaults = {
        f.attname: now
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
        else f.get_default()
        for f in fields
        if f.attname not in position
    }
    picks = [(position.get(f.attname), defaults.get(f.attname)) for f in fields]
    _copy(
        model,
        fields,
        ([row[i] if i is not None else default for i, default in picks] for row in values),
    )


def _copy(model: type[Model], fields: list[Field], rows: Iterable[list[Any]]) -> None:
    """COPY the rows (values in the order of `fields`) into the model's table."""
    table = model._meta.db_table
    # COPY takes the Python values as they are (psycopg adapts dates, decimals, texts);
    # JSON needs saying so.
    json_fields = [i for i, f in enumerate(fields) if isinstance(f, JSONField)]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    connection.ensure_connection()
    with (
        connection.connection.cursor() as cursor,
        cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
    ):
        for row in rows:
            for i in json_fields:
                row[i] = Jsonb(row[i])
            copy.write_row(row)
