"""The register keeps every change with who, when, what and why, and answers as-of questions."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError

from members import queries, services, stats
from members.models import AuditEntry, EndReason, MembershipPeriod, MemberStatus
from tests.factories import make_member

pytestmark = pytest.mark.django_db
BERLIN = ZoneInfo("Europe/Berlin")


def test_admission_creates_a_pending_member_with_history(tree):
    member = make_member(tree.leipzig, last_name="Neumann", joined_on=date(2024, 3, 1))
    assert member.status == MemberStatus.PENDING
    assert member.membership_number > 0
    assert list(member.periods.values_list("division__code", "started_on", "ended_on")) == [
        ("SN-L", date(2024, 3, 1), None)
    ]
    (version,) = member.versions.all()
    assert version.values["last_name"] == "Neumann"
    assert AuditEntry.objects.filter(action="member.admitted", object_id=str(member.pk)).exists()


def test_membership_numbers_are_never_reused(tree):
    first = make_member(tree.sn)
    second = make_member(tree.sn)
    services.end_membership(by=None, member=second, on=date(2024, 1, 1), reason=EndReason.EXIT)
    third = make_member(tree.sn)
    assert first.membership_number < second.membership_number < third.membership_number


def test_a_change_records_who_what_and_why(tree, federal_admin):
    member = make_member(tree.leipzig, city="Leipzig")
    services.update_member(
        by=federal_admin, member=member, changes={"city": "Markkleeberg"}, reason="Umzug"
    )
    version = member.versions.order_by("-version").first()
    assert (version.version, version.recorded_by, version.reason) == (2, federal_admin, "Umzug")
    assert version.changes == {"city": ["Leipzig", "Markkleeberg"]}


def test_only_the_federal_office_changes_the_register_directly(tree, board_sn):
    from django.core.exceptions import PermissionDenied

    member = make_member(tree.leipzig, city="Leipzig")
    with pytest.raises(PermissionDenied):
        services.update_member(by=board_sn, member=member, changes={"city": "Chemnitz"})
    with pytest.raises(PermissionDenied):
        services.admit_member(
            by=board_sn,
            division=tree.leipzig,
            values={"last_name": "Quer"},
            joined_on=date(2026, 1, 1),
        )
    with pytest.raises(PermissionDenied):
        services.end_membership(by=board_sn, member=member, on=date(2026, 1, 1), reason="exit")
    with pytest.raises(PermissionDenied):
        services.transfer_member(by=board_sn, member=member, to=tree.dresden, on=date(2026, 1, 1))
    member.refresh_from_db()
    assert (member.city, member.status, member.division) == ("Leipzig", "pending", tree.leipzig)


def test_a_change_that_changes_nothing_leaves_no_version(tree):
    member = make_member(tree.leipzig, city="Leipzig")
    services.update_member(by=None, member=member, changes={"city": "Leipzig"})
    assert member.versions.count() == 1


def test_the_register_refuses_invalid_values(tree):
    member = make_member(tree.leipzig)
    with pytest.raises(ValidationError):
        services.update_member(by=None, member=member, changes={"email": "not-an-address"})
    with pytest.raises(ValidationError):
        services.update_member(by=None, member=member, changes={"status": "active"})


def test_record_as_it_was_on_a_past_day(tree):
    with time_machine.travel(datetime(2025, 1, 10, 12, tzinfo=BERLIN)):
        member = make_member(tree.leipzig, street="Alte Straße 1")
    with time_machine.travel(datetime(2025, 6, 10, 12, tzinfo=BERLIN)):
        services.update_member(by=None, member=member, changes={"street": "Neue Straße 2"})
    on = queries.member_record_on
    assert on(member, datetime(2025, 1, 1, tzinfo=BERLIN)) is None
    assert on(member, datetime(2025, 3, 1, tzinfo=BERLIN))["street"] == "Alte Straße 1"
    assert on(member, datetime(2025, 7, 1, tzinfo=BERLIN))["street"] == "Neue Straße 2"


def test_member_counts_on_past_days_follow_entries_exits_and_transfers(tree):
    anna = make_member(tree.leipzig, joined_on=date(2020, 1, 1))
    bert = make_member(tree.leipzig_sued, joined_on=date(2021, 1, 1))
    carl = make_member(tree.kiel, joined_on=date(2020, 6, 1))
    services.transfer_member(by=None, member=anna, to=tree.dresden, on=date(2022, 1, 1))
    services.end_membership(by=None, member=bert, on=date(2023, 1, 1), reason=EndReason.EXIT)
    services.transfer_member(by=None, member=carl, to=tree.leipzig, on=date(2024, 1, 1))

    counts = {
        day: (
            stats.members_on(tree.sn, day),
            stats.members_on(tree.leipzig, day),
            stats.members_on(tree.sh, day),
        )
        for day in [
            date(2019, 12, 31),
            date(2020, 1, 1),
            date(2021, 6, 1),
            date(2022, 6, 1),
            date(2023, 6, 1),
            date(2024, 6, 1),
        ]
    }
    assert counts == {
        date(2019, 12, 31): (0, 0, 0),
        date(2020, 1, 1): (1, 1, 0),
        date(2021, 6, 1): (2, 2, 1),  # anna and bert in Leipzig (bert in a chapter below it)
        date(2022, 6, 1): (2, 1, 1),  # anna moved within the state, to Dresden
        date(2023, 6, 1): (1, 0, 1),  # bert left
        date(2024, 6, 1): (2, 1, 0),  # carl came from Kiel
    }


def test_ending_a_membership_closes_its_period(tree):
    member = make_member(tree.leipzig, joined_on=date(2020, 1, 1))
    services.end_membership(by=None, member=member, on=date(2024, 5, 1), reason=EndReason.DEATH)
    member.refresh_from_db()
    assert (member.status, member.end_reason, member.left_on) == (
        "ended",
        "death",
        date(2024, 5, 1),
    )
    assert MembershipPeriod.objects.get(member=member).end_kind == "death"
    with pytest.raises(ValidationError):
        services.end_membership(by=None, member=member, on=date(2024, 6, 1), reason=EndReason.EXIT)


def test_dashboard_figures_add_up_over_sub_divisions(tree):
    with time_machine.travel(datetime(2026, 3, 15, 12, tzinfo=BERLIN)):
        make_member(tree.leipzig, joined_on=date(2026, 3, 10))
        make_member(tree.leipzig_sued, joined_on=date(2025, 12, 1))
        make_member(tree.dresden, joined_on=date(2024, 1, 1))
        gone = make_member(tree.dresden, joined_on=date(2024, 1, 1))
        services.end_membership(by=None, member=gone, on=date(2026, 2, 1), reason=EndReason.EXIT)
        total, children = stats.division_figures(tree.sn, date(2026, 3, 15))
    assert (total.members, total.entries, total.exits) == (
        3,
        {14: 1, 30: 1, 90: 1, 365: 2},
        {14: 0, 30: 0, 90: 1, 365: 1},
    )
    assert [(f.division.code, f.members) for f in children] == [("SN-DD", 1), ("SN-L", 2)]
    series = total.series
    assert (series.months[-1], series.members[-1], series.entries[-1]) == (date(2026, 3, 1), 3, 1)
    assert series.members[-2] == 2  # end of February: Dresden's exit, before the March entry
    assert series.members[-4] == 3  # end of December: three members
