"""The member table kept in the order the board pages read it, on PostgreSQL.

A board reads its own state's members in name order: the list pages through the (state,
name) index, and a search for a common surname collects a thousand matches of one state. In
a table filled over the years those rows lie scattered, one row per page of the table: the
search for "Weber" in a state of 108,000 members read 1,158 table pages at 500,000 members
and 40 at 20,000. Kept in (state, name) order, the same matches lie on a few dozen pages.

PostgreSQL's CLUSTER rewrites the table in the order of an index. It takes the table's
exclusive lock while it runs (25 s at 500,000 members on a two-core machine), so the weekly
job runs it at night and gives up at once when it cannot get the lock (someone is working:
next week then). Between runs the table keeps a fifth of each page free (fillfactor 80, set
by the migrations), so that updating a member (balance, status) writes the new row version
on its own page instead of at the end of the table; new members go to the end until the
next run.
"""

from __future__ import annotations

import logging
import time

from django.db import OperationalError, connection, transaction

logger = logging.getLogger(__name__)

TABLE = "members_member"
INDEX = "members_member_state_name"  # (state_id, last_name, first_name, membership_number)


def rewrite(*, lock_timeout_ms: int = 2000) -> float | None:
    """Rewrite the member table in (state, name) order; the seconds it took, or None when
    it did not run (not PostgreSQL, inside a transaction, or the table was in use)."""
    if connection.vendor != "postgresql":
        return None
    if connection.in_atomic_block:
        logger.info("The member table was not reordered: inside a transaction")
        return None
    started = time.monotonic()
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = %s", [f"{int(lock_timeout_ms)}ms"])
            cursor.execute(f"CLUSTER {TABLE} USING {INDEX}")
    except OperationalError as error:
        logger.warning("The member table was not reordered (in use): %s", error)
        return None
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {TABLE}")
    seconds = time.monotonic() - started
    logger.info("The member table was reordered in %.1f s", seconds)
    return seconds


def is_ordered() -> bool:
    """Whether the table has been reordered by its (state, name) index."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.indisclustered FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE c.relname = %s",
            [INDEX],
        )
        row = cursor.fetchone()
    return bool(row and row[0])
