"""A board's search reads its own state's trigram index (PostgreSQL): made with the state,
kept by the weekly repair."""

import pytest
from django.db import connection

from members import search_indexes, tasks
from members.models import DivisionLevel
from tests.factories import add

pytestmark = [
    pytest.mark.django_db(transaction=True),  # a new state's index is built after its commit
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="partial trigram indexes are PostgreSQL's"
    ),
]


def definitions() -> dict[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'members_member' "
            "AND indexname LIKE %s",
            [search_indexes.PREFIX + "%"],
        )
        return dict(cursor.fetchall())


def test_each_state_gets_a_search_index_of_its_own(tree):
    indexes = definitions()
    assert set(indexes) == {
        search_indexes.index_name(tree.sn.pk),
        search_indexes.index_name(tree.sh.pk),
    }
    assert f"WHERE (state_id = {tree.sn.pk})" in indexes[search_indexes.index_name(tree.sn.pk)]
    assert "gin_trgm_ops" in indexes[search_indexes.index_name(tree.sn.pk)]

    by = add("Landesverband Bayern", "BY", DivisionLevel.STATE, tree.bund)
    add("Kreisverband Passau", "BY-PA", DivisionLevel.DISTRICT, by)  # no index of its own
    assert search_indexes.index_name(by.pk) in definitions()
    assert len(definitions()) == 3


def test_the_weekly_repair_drops_stale_indexes_and_rebuilds_missing_ones(tree):
    stale = search_indexes.index_name(tree.bund.pk)  # a division that is no state (any more)
    with connection.cursor() as cursor:
        cursor.execute(f'DROP INDEX "{search_indexes.index_name(tree.sn.pk)}"')
        cursor.execute(
            f'CREATE INDEX "{stale}" ON members_member USING gin (search_text gin_trgm_ops) '
            f"WHERE state_id = {tree.bund.pk}"
        )
    tasks.repair_figures.delay()
    assert set(definitions()) == {
        search_indexes.index_name(tree.sn.pk),
        search_indexes.index_name(tree.sh.pk),
    }
