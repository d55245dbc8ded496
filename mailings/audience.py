"""The audience figures (models.AudienceFigure) on PostgreSQL: the triggers that keep them,
and the weekly repair that recomputes them from the register.

A member counts for their division and every division above it, so a subtree's audience is
the few rows of its top division. Every statement that writes members or suppressed
addresses adds its differences per group in one upsert, its rows taken in one order (two
writers never wait for each other in a circle). A member's address counts as blocked while
a suppression holds it in lower case. A division that moves changes the sums above it: the
register says so (members.signals.divisions_moved) and the figures are recomputed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import connection, transaction

from members.figures import rebuild
from members.models import Division

logger = logging.getLogger(__name__)

TABLE = "mailings_audiencefigure"
GROUP = "division_id, fee_class, payment_status, address, newsletter_consent"
# Each changed row once for its division and once for every division above it (a path is
# its ancestors' paths followed by steplen characters of its own).
UP_THE_TREE = (
    "SELECT a.id AS division_id, c.fee_class, c.payment_status, c.address, "  # noqa: S608
    "c.newsletter_consent, c.delta FROM ({changes}) AS c "
    "JOIN members_division d ON d.id = c.division_id "
    f"CROSS JOIN generate_series(1, length(d.path) / {Division.steplen}) AS step(n) "
    f"JOIN members_division a ON a.path = substr(d.path, 1, step.n * {Division.steplen})"
)
ADDRESS = (
    "CASE WHEN {r}.email = '' THEN 'missing' WHEN EXISTS (SELECT 1 FROM mailings_suppression s "
    "WHERE s.email = lower({r}.email)) THEN 'blocked' ELSE 'usable' END"
)


def _members(rows: str, delta: int) -> str:
    return (
        f"SELECT r.division_id, r.fee_class, r.payment_status, {ADDRESS.format(r='r')} AS address, "  # noqa: S608 - no user input
        f"r.newsletter_consent, {delta} AS delta FROM {rows} r WHERE r.status <> 'ended'"
    )


def _suppressions(rows: str, blocked: int) -> str:
    """Members holding the addresses a statement suppressed (+1 blocked, -1 usable) or freed."""
    return (
        "SELECT m.division_id, m.fee_class, m.payment_status, a.address, m.newsletter_consent, "  # noqa: S608 - no user input
        f"a.delta FROM members_member m JOIN {rows} s ON lower(m.email) = s.email "
        f"CROSS JOIN (VALUES ('blocked', {blocked}), ('usable', {-blocked})) AS a(address, delta) "
        "WHERE m.status <> 'ended' AND m.email <> ''"
    )


def _events(changes: Callable[[str, int], str]) -> dict[str, tuple[str, list[str]]]:
    """event -> (REFERENCING clause, the SELECTs of its changes): rows a statement wrote
    count +1, rows it removed -1."""
    return {
        "insert": ("NEW TABLE AS new_rows", [changes("new_rows", 1)]),
        "update": (
            "OLD TABLE AS old_rows NEW TABLE AS new_rows",
            [changes("old_rows", -1), changes("new_rows", 1)],
        ),
        "delete": ("OLD TABLE AS old_rows", [changes("old_rows", -1)]),
    }


TRIGGERS = {"members_member": _events(_members), "mailings_suppression": _events(_suppressions)}


def _name(table: str, event: str) -> str:
    return f"mailings_audience_{table.split('_', 1)[1]}_{event}"


def install_sql() -> list[str]:
    statements = []
    for table, events in TRIGGERS.items():
        for event, (referencing, changes) in events.items():
            name = _name(table, event)
            statements.append(
                f"""
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {TABLE} ({GROUP}, count)
    SELECT {GROUP}, SUM(delta)
    FROM ({UP_THE_TREE.format(changes=" UNION ALL ".join(changes))}) AS changes
    GROUP BY {GROUP} HAVING SUM(delta) <> 0 ORDER BY {GROUP}
    ON CONFLICT ({GROUP}) DO UPDATE SET count = {TABLE}.count + excluded.count;
    RETURN NULL;
END
$$"""  # noqa: S608 - no user input
            )
            statements.append(
                f"CREATE TRIGGER {name} AFTER {event.upper()} ON {table} "
                f"REFERENCING {referencing} FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
            )
    return statements


def uninstall_sql() -> list[str]:
    return [
        statement
        for table, events in TRIGGERS.items()
        for event in events
        for statement in (
            f"DROP TRIGGER IF EXISTS {_name(table, event)} ON {table}",
            f"DROP FUNCTION IF EXISTS {_name(table, event)}()",
        )
    ]


EXPECTED = f"""
    SELECT {GROUP}, SUM(delta) FROM ({UP_THE_TREE.format(changes=_members("members_member", 1))})
    AS expected GROUP BY {GROUP}
"""  # noqa: S608 - no user input


def repair(*, fix: bool = True) -> int:
    """Recompute the figures from the members and the suppressions; returns how many rows
    differed (0 when the triggers counted every write) and replaces them if `fix`."""
    if connection.vendor != "postgresql":
        return 0
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {TABLE} IN SHARE ROW EXCLUSIVE MODE")
        drift = rebuild(cursor, TABLE, f"{GROUP}, count", EXPECTED, "count <> 0", fix, False)
    if drift:
        logger.warning(
            "Audience figures drifted%s: %d rows", " and were recomputed" if fix else "", drift
        )
    return drift


def after_move(sender: object, **kwargs: object) -> None:
    """A division moved: the sums above it changed (members.signals.divisions_moved)."""
    repair()
