"""The member table is rewritten weekly in the order board pages read it (PostgreSQL), and
never waits for the table while someone works with it."""

import threading

import psycopg
import pytest
from django.db import connection

from members import physical_order, tasks
from members.models import Member
from tests.factories import make_member

pytestmark = [
    pytest.mark.django_db(transaction=True),  # CLUSTER runs in a transaction of its own
    pytest.mark.skipif(connection.vendor != "postgresql", reason="CLUSTER is PostgreSQL's"),
]


@pytest.fixture(autouse=True)
def unordered():
    """A flushed database keeps the table's mark of the last reordering: start without."""
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE members_member SET WITHOUT CLUSTER")


def physical_order_of_names() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT last_name FROM members_member ORDER BY ctid")
        return [row[0] for row in cursor.fetchall()]


def test_the_weekly_job_puts_each_states_members_together_in_name_order(tree):
    for name, division in [
        ("Zander", tree.leipzig),
        ("Albers", tree.kiel),
        ("Meier", tree.dresden),
        ("Becker", tree.leipzig),
        ("Ohm", tree.kiel),
    ]:
        make_member(division, last_name=name)
    assert not physical_order.is_ordered()
    tasks.reorder_register.delay()
    assert physical_order.is_ordered()
    states = dict(Member.objects.values_list("last_name", "state__code"))
    names = physical_order_of_names()
    sachsen = [n for n in names if states[n] == "SN"]
    holstein = [n for n in names if states[n] == "SH"]
    # One state's members before the other's, each in name order.
    assert names in (sachsen + holstein, holstein + sachsen)
    assert sachsen == ["Becker", "Meier", "Zander"] and holstein == ["Albers", "Ohm"]


def test_the_reordering_gives_up_at_once_while_the_table_is_in_use(tree):
    make_member(tree.leipzig, last_name="Zander")
    make_member(tree.leipzig, last_name="Albers")
    before = physical_order_of_names()
    locked, release = threading.Event(), threading.Event()
    params = connection.get_connection_params()

    def hold_the_table() -> None:
        with psycopg.connect(**params) as other, other.cursor() as cursor:
            cursor.execute("BEGIN")
            cursor.execute("LOCK TABLE members_member IN ROW EXCLUSIVE MODE")  # a writer
            locked.set()
            release.wait(10)
            cursor.execute("COMMIT")

    holder = threading.Thread(target=hold_the_table)
    holder.start()
    try:
        assert locked.wait(10)
        assert physical_order.rewrite(lock_timeout_ms=200) is None
    finally:
        release.set()
        holder.join()
    assert physical_order_of_names() == before
    assert not physical_order.is_ordered()
