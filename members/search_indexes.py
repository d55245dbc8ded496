"""One trigram index per state for the member search, on PostgreSQL.

A board searches within its state. The GIN index on (state, search text) intersects the
state's entries with each trigram's entries of the whole register, and those grow with every
member of every state: a search for a common name took 3 ms at 20,000 members and 13 ms at
500,000. A partial index per state (`WHERE state_id = <id>`) holds that state's members only,
so a search reads what its own state holds. PostgreSQL picks it whenever the query names the
state as a constant, which access.member_subtree_q does for a state's boards.

States are few and seldom made; the indexes follow them: a new state gets its index after the
transaction that made it (built concurrently, without blocking writes), the migrations and the
weekly repair create missing ones and drop those of states that are gone or whose build failed.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import connection, transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from members.models import Division

logger = logging.getLogger(__name__)

PREFIX = "members_member_search_state_"


def index_name(state_id: int) -> str:
    return f"{PREFIX}{state_id}"


def _state_ids() -> set[int]:
    return set(Division.objects.filter(depth=2).values_list("pk", flat=True))


def _existing() -> dict[str, bool]:
    """Our indexes on the member table, with whether each is valid (a concurrent build that
    failed leaves an invalid one behind)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname, i.indisvalid
            FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
            WHERE i.indrelid = 'members_member'::regclass AND c.relname LIKE %s
            """,
            [PREFIX + "%"],
        )
        return dict(cursor.fetchall())


def ensure(*, concurrently: bool = True) -> tuple[list[str], list[str]]:
    """Create the missing state indexes and drop the stale ones; returns (created, dropped).
    Concurrently needs autocommit (not inside a transaction): the default, for jobs; the
    migrations build them in their transaction instead."""
    if connection.vendor != "postgresql":
        return [], []
    if concurrently and connection.in_atomic_block:
        # Not inside someone's transaction (a task run eagerly within one): PostgreSQL builds
        # no index concurrently there, and a plain build would block the table's writers.
        logger.info("State search indexes not checked: inside a transaction")
        return [], []
    wanted = {index_name(pk): pk for pk in _state_ids()}
    existing = _existing()
    how = "CONCURRENTLY " if concurrently else ""
    dropped = [name for name, valid in existing.items() if name not in wanted or not valid]
    created = [name for name in wanted if name not in existing or not existing[name]]
    with connection.cursor() as cursor:
        for name in dropped:
            cursor.execute(f'DROP INDEX {how}IF EXISTS "{name}"')
        for name in created:
            # Names and ids are ours (integers), never user input.
            cursor.execute(
                f'CREATE INDEX {how}IF NOT EXISTS "{name}" ON members_member '
                f"USING gin (search_text gin_trgm_ops) WHERE state_id = {int(wanted[name])}"
            )
    if created or dropped:
        logger.info("State search indexes: created %s, dropped %s", created, dropped)
    return created, dropped


@receiver(post_save, sender=Division, dispatch_uid="members.search_indexes.new_state")
def _index_new_state(
    sender: type[Division], instance: Division, created: bool, raw: bool = False, **kwargs: Any
) -> None:
    if created and not raw and instance.depth == 2 and connection.vendor == "postgresql":
        transaction.on_commit(ensure)
