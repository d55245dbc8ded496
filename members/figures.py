"""Keeps the register figures (members.models.figures) true: counted with every change, in
the change's transaction, and recomputed from the register by the nightly repair."""

from __future__ import annotations

import logging
from datetime import date

from django.db import connection, transaction

from members.models import (
    TRANSFER_OUT,
    Division,
    DivisionDay,
    DivisionMonth,
    DivisionTally,
    Member,
    MembershipPeriod,
    PeriodStart,
)

logger = logging.getLogger(__name__)

TALLY = DivisionTally._meta.db_table
DAY = DivisionDay._meta.db_table
MONTH = DivisionMonth._meta.db_table
DIVISION = Division._meta.db_table
EVENT_COLUMNS = ("starts", "ends", "entries", "exits")


def count_member(*, division_id: int, status: str, delta: int) -> None:
    """A member of `status` joined (+1) or left (-1) the division's count of that status."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {TALLY} (division_id, status, count) VALUES (%s, %s, %s) "  # noqa: S608 - table names are ours
            f"ON CONFLICT (division_id, status) DO UPDATE SET count = {TALLY}.count + excluded.count",
            [division_id, status, delta],
        )


def count_start(*, division: Division, day: date, kind: str) -> None:
    _count_event(division, day, starts=1, entries=int(kind == PeriodStart.ENTRY))


def count_end(*, division: Division, day: date, kind: str) -> None:
    _count_event(division, day, ends=1, exits=int(kind != TRANSFER_OUT))


def _count_event(division: Division, day: date, **counts: int) -> None:
    """Count the event for the division and every division above it. Rows are written in
    the order of their ids, so that two changes never wait for each other in a circle."""
    values = [counts.get(column, 0) for column in EVENT_COLUMNS]
    paths = [
        division.path[:end]
        for end in range(Division.steplen, len(division.path) + 1, Division.steplen)
    ]
    updates = ", ".join(f"{c} = {{table}}.{c} + excluded.{c}" for c in EVENT_COLUMNS)
    placeholders = ", ".join(["%s"] * len(paths))
    with connection.cursor() as cursor:
        for table, key, when in ((DAY, "day", day), (MONTH, "month", day.replace(day=1))):
            cursor.execute(
                f"INSERT INTO {table} (division_id, {key}, {', '.join(EVENT_COLUMNS)}) "  # noqa: S608 - table names are ours
                f"SELECT id, %s, %s, %s, %s, %s FROM {DIVISION} WHERE path IN ({placeholders}) "
                f"ORDER BY id ON CONFLICT (division_id, {key}) DO UPDATE SET {updates.format(table=table)}",
                [when, *values, *paths],
            )


# --- The nightly repair ------------------------------------------------------------------


def _month_of(column: str) -> str:
    if connection.vendor == "postgresql":
        return f"CAST(date_trunc('month', {column}) AS date)"
    return f"date({column}, 'start of month')"


def _expected_events(key: str) -> str:
    """SELECT division_id, <key>, starts, ends, entries, exits recomputed from the periods,
    each event counted for its division and every division above it."""
    periods = MembershipPeriod._meta.db_table
    day = "day" if key == "day" else _month_of("day")
    return f"""
        SELECT above.id AS division_id, {day} AS {key},
               SUM(starts), SUM(ends), SUM(entries), SUM(exits)
        FROM (
            SELECT division_id, started_on AS day, 1 AS starts, 0 AS ends,
                   CASE WHEN start_kind = '{PeriodStart.ENTRY}' THEN 1 ELSE 0 END AS entries,
                   0 AS exits
            FROM {periods}
            UNION ALL
            SELECT division_id, ended_on, 0, 1, 0,
                   CASE WHEN end_kind <> '{TRANSFER_OUT}' THEN 1 ELSE 0 END
            FROM {periods} WHERE ended_on IS NOT NULL
        ) AS events
        JOIN {DIVISION} AS own ON own.id = events.division_id
        JOIN {DIVISION} AS above ON substr(own.path, 1, length(above.path)) = above.path
        GROUP BY above.id, {day}
    """  # noqa: S608 - no user input


def _expected_tally() -> str:
    return f"""
        SELECT division_id, status, COUNT(*) FROM {Member._meta.db_table}
        GROUP BY division_id, status
    """  # noqa: S608 - no user input


def rebuild(
    cursor, table: str, columns: str, expected: str, stored_filter: str, fix: bool, known: bool
) -> int:
    """Compare a figures table with its recomputation; replace it if `fix`. Returns the
    number of rows that differ (each wrong row counts twice: one missing, one too many);
    `known`: the table is known to be wrong (a bulk write): replaced without comparing."""
    stored = f"SELECT {columns} FROM {table} WHERE {stored_filter}"  # noqa: S608
    recomputed = f"SELECT * FROM ({expected}) AS expected"  # noqa: S608
    drift = 0
    for difference in (f"{recomputed} EXCEPT {stored}", f"{stored} EXCEPT {recomputed}"):
        if known:
            drift = 1
            break
        cursor.execute(f"SELECT COUNT(*) FROM ({difference}) AS difference")  # noqa: S608
        drift += cursor.fetchone()[0]
    if drift and fix:
        cursor.execute(f"DELETE FROM {table}")  # noqa: S608
        cursor.execute(f"INSERT INTO {table} ({columns}) {expected}")
    return drift


def repair(*, fix: bool = True, expected: bool = False) -> dict[str, int]:
    """Recompute the figures from the register; returns the number of rows that differed
    per table (0 everywhere when every change was counted), and replaces them if `fix`.
    `expected`: the register was written in bulk past the counting: the figures are
    replaced without comparing (nor warning)."""
    events = ", ".join(EVENT_COLUMNS)
    nonzero = " OR ".join(f"{c} <> 0" for c in EVENT_COLUMNS)
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Changes made meanwhile wait for the few seconds this takes, instead of being lost.
            cursor.execute(f"LOCK TABLE {TALLY}, {DAY}, {MONTH} IN SHARE ROW EXCLUSIVE MODE")
        drift = {
            "tally": rebuild(
                cursor,
                TALLY,
                "division_id, status, count",
                _expected_tally(),
                "count <> 0",
                fix,
                expected,
            ),
            "days": rebuild(
                cursor,
                DAY,
                f"division_id, day, {events}",
                _expected_events("day"),
                nonzero,
                fix,
                expected,
            ),
            "months": rebuild(
                cursor,
                MONTH,
                f"division_id, month, {events}",
                _expected_events("month"),
                nonzero,
                fix,
                expected,
            ),
        }
    if any(drift.values()) and not expected:
        logger.warning(
            "Register figures drifted%s: %s", " and were recomputed" if fix else "", drift
        )
    return drift
