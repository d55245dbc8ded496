"""The register figures behind the dashboards follow every change in its own transaction,
and the nightly repair finds nothing to do when they did."""

from datetime import date, datetime
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command

from members import figures, services, stats
from members.models import DivisionDay, DivisionTally, EndReason, Member
from tests.factories import make_member

pytestmark = pytest.mark.django_db
BERLIN = ZoneInfo("Europe/Berlin")
NONE = {"tally": 0, "days": 0, "months": 0}


def test_every_change_of_the_register_is_counted_as_it_happens(tree):
    with time_machine.travel(datetime(2026, 3, 15, 12, tzinfo=BERLIN)):
        anna = make_member(tree.leipzig_sued, joined_on=date(2025, 6, 1))
        bert = make_member(tree.dresden, joined_on=date(2024, 1, 1))
        carl = make_member(tree.kiel, joined_on=date(2023, 5, 1))
        services.transfer_member(by=None, member=anna, to=tree.dresden, on=date(2026, 1, 1))
        services.transfer_member(by=None, member=carl, to=tree.leipzig, on=date(2026, 2, 1))
        # Backdated: an exit entered in March takes effect in November.
        services.end_membership(by=None, member=bert, on=date(2025, 11, 1), reason=EndReason.EXIT)
        assert figures.repair(fix=False) == NONE
        total, children = stats.division_figures(tree.sn, date(2026, 3, 15))
        kiel, _ = stats.division_figures(tree.sh, date(2026, 3, 15))
    assert (total.members, total.entries[365], total.exits[365]) == (2, 1, 1)
    assert [(f.division.code, f.members, f.entries[365]) for f in children] == [
        ("SN-DD", 1, 0),
        ("SN-L", 1, 1),  # Anna's entry counts for Leipzig, where she joined
    ]
    assert kiel.members == 0 and kiel.exits[365] == 0  # a transfer out is no exit
    # Members at the end of each month, as the periods say.
    assert total.series.members[-5:] == [
        stats.members_on(tree.sn, day) for day in _month_ends(2025, 11, 2026, 3)
    ]


def _month_ends(year, month, last_year, last_month):
    days = []
    while (year, month) <= (last_year, last_month):
        following = date(year + month // 12, month % 12 + 1, 1)
        days.append(min(date.fromordinal(following.toordinal() - 1), date(2026, 3, 15)))
        year, month = following.year, following.month
    return days


def test_the_repair_finds_drift_and_recomputes(tree):
    make_member(tree.leipzig, joined_on=date(2025, 3, 1))
    DivisionTally.objects.filter(division=tree.leipzig).update(count=7)
    DivisionDay.objects.filter(division=tree.sn).delete()
    drift = figures.repair()
    assert drift == {
        "tally": 2,
        "days": 1,
        "months": 0,
    }  # a wrong row is one too few and one too many
    assert figures.repair() == NONE
    assert DivisionTally.objects.get(division=tree.leipzig).count == 1


def test_the_command_checks_without_changing(tree):
    make_member(tree.leipzig, joined_on=date(2025, 3, 1))
    DivisionTally.objects.all().delete()
    out = StringIO()
    call_command("repair_figures", "--check", stdout=out)
    assert out.getvalue() == "drift in rows per table: tally: 1, days: 0, months: 0\n"
    assert not DivisionTally.objects.exists()
    call_command("repair_figures", stdout=StringIO())
    assert figures.repair(fix=False) == NONE


def test_the_weekly_repair_runs_twice_and_acts_once(tree):
    from members.tasks import repair_figures

    make_member(tree.leipzig, joined_on=date(2025, 3, 1))
    DivisionTally.objects.all().delete()
    repair_figures()
    tally = list(DivisionTally.objects.values_list("division_id", "status", "count"))
    assert tally == [(tree.leipzig.pk, "pending", 1)]
    repair_figures()
    assert list(DivisionTally.objects.values_list("division_id", "status", "count")) == tally


def test_the_weekly_repair_gives_bulk_written_members_their_state_and_says_so(
    tree, board_sn, caplog
):
    from members.tasks import repair_figures

    member = make_member(tree.leipzig)
    Member.objects.filter(pk=member.pk).update(state=None)  # a bulk write that forgot it
    assert not Member.objects.visible_to(board_sn).filter(pk=member.pk).exists()
    repair_figures()
    assert Member.objects.visible_to(board_sn).filter(pk=member.pk).exists()
    assert "The state of 1 members was missing or wrong" in caplog.text
