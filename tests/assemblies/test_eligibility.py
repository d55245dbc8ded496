"""Who may vote: the register as it stood on the cut-off date, not as it is today."""

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import models
from django.utils import timezone

from assemblies import eligibility
from assemblies import services as assemblies
from assemblies.models import Assembly, AssemblyKind, Entry, Reason
from finance import payments
from finance.models import Charge
from members import services
from members.models import AuditEntry, EndReason, Member
from tests.factories import make_member

pytestmark = pytest.mark.django_db


def _assembly(division, cutoff: date, kind: str = AssemblyKind.CONVENTION, by=None) -> Assembly:
    return Assembly.objects.create(
        division=division,
        kind=kind,
        title="Landesparteitag",
        starts_at=timezone.make_aware(
            datetime.combine(cutoff + timedelta(days=30), datetime.min.time())
        ),
        place="Stadthalle",
        cutoff_on=cutoff,
        created_by=by,
    )


def _judged(assembly: Assembly) -> dict[int, eligibility.Row]:
    return {row.member_id: row for row in eligibility.rows(assembly)}


def _active(division, joined_on: date = date(2020, 1, 1), since: date | None = None) -> Member:
    member = make_member(division, joined_on=joined_on)
    services.activate_members([member.pk], reason="first dues", on=since or joined_on)
    member.refresh_from_db()
    return member


def _owes(member: Member, amount: str, due_on: date) -> None:
    Charge.objects.create(
        member=member,
        year=due_on.year,
        amount=Decimal(amount),
        due_on=due_on,
        overdue_on=due_on + timedelta(days=30),
    )


def test_entry_after_the_cutoff_is_not_a_member_then(tree):
    early = _active(tree.leipzig)
    late = _active(tree.leipzig, joined_on=date(2026, 6, 1))
    before = _judged(_assembly(tree.sn, date(2026, 3, 1)))
    assert before[early.pk].reason == Reason.ELIGIBLE
    assert before[late.pk].reason == Reason.NOT_YET
    assert before[late.pk].since == date(2026, 6, 1)
    after = _judged(_assembly(tree.sn, date(2026, 7, 1)))
    assert after[late.pk].reason == Reason.ELIGIBLE


def test_exit_before_the_cutoff_takes_the_vote_and_one_after_does_not(tree):
    left_early = _active(tree.leipzig)
    services.end_membership(by=None, member=left_early, on=date(2026, 2, 1), reason=EndReason.EXIT)
    left_later = _active(tree.dresden)
    services.end_membership(by=None, member=left_later, on=date(2026, 5, 1), reason=EndReason.EXIT)
    judged = _judged(_assembly(tree.sn, date(2026, 3, 1)))
    assert judged[left_early.pk].reason == Reason.ENDED
    assert judged[left_early.pk].since == date(2026, 2, 1)
    # Today both are gone; on the cut-off date the second was still a member.
    assert judged[left_later.pk].reason == Reason.ELIGIBLE
    left_later.refresh_from_db()
    assert left_later.status == "ended"


def test_transfer_counts_where_the_member_was_on_the_cutoff(tree):
    mover = _active(tree.leipzig)
    services.transfer_member(by=None, member=mover, to=tree.kiel, on=date(2026, 5, 1))
    assert _judged(_assembly(tree.sn, date(2026, 3, 1)))[mover.pk].division_id == tree.leipzig.pk
    after = _judged(_assembly(tree.sn, date(2026, 6, 1)))[mover.pk]
    assert (after.reason, after.since) == (Reason.TRANSFERRED, date(2026, 5, 1))
    assert _judged(_assembly(tree.sh, date(2026, 3, 1)))[mover.pk].reason == Reason.NOT_YET
    assert _judged(_assembly(tree.sh, date(2026, 6, 1)))[mover.pk].reason == Reason.ELIGIBLE
    # A move inside the subtree changes nothing for the state, only the district counted.
    inside = _active(tree.leipzig)
    services.transfer_member(by=None, member=inside, to=tree.dresden, on=date(2026, 2, 1))
    row = _judged(_assembly(tree.sn, date(2026, 3, 1)))[inside.pk]
    assert (row.reason, row.division_id) == (Reason.ELIGIBLE, tree.dresden.pk)


def test_arrears_at_the_cutoff_take_the_vote_even_when_paid_since(tree):
    member = _active(tree.leipzig)
    _owes(member, "120.00", date(2026, 3, 1))
    payments.record_payment(
        member=member, amount=Decimal("120.00"), booked_on=date(2026, 5, 1), method="cash", by=None
    )
    member.refresh_from_db()
    assert member.payment_status == "paid_up"  # today: nothing owed
    row = _judged(_assembly(tree.sn, date(2026, 4, 15)))[member.pk]
    assert (row.reason, row.owed, row.since) == (
        Reason.ARREARS,
        Decimal("120.00"),
        date(2026, 3, 31),
    )
    # Within the grace period the dues are owed too, with no arrears date yet.
    grace = _judged(_assembly(tree.sn, date(2026, 3, 10)))[member.pk]
    assert (grace.reason, grace.owed, grace.since) == (Reason.ARREARS, Decimal("120.00"), None)
    assert _judged(_assembly(tree.sn, date(2026, 5, 15)))[member.pk].reason == Reason.ELIGIBLE


def test_nominations_for_public_elections_ignore_arrears(tree):
    member = _active(tree.leipzig)
    _owes(member, "60.00", date(2026, 3, 1))
    nomination = _assembly(tree.sn, date(2026, 6, 1), kind=AssemblyKind.NOMINATION)
    assert _judged(nomination)[member.pk].reason == Reason.ELIGIBLE
    assert _judged(_assembly(tree.sn, date(2026, 6, 1)))[member.pk].reason == Reason.ARREARS


def test_pending_on_the_cutoff(tree):
    activated_later = _active(tree.leipzig, joined_on=date(2026, 1, 10), since=date(2026, 4, 1))
    still_pending = make_member(tree.leipzig, joined_on=date(2026, 1, 10))
    judged = _judged(_assembly(tree.sn, date(2026, 3, 1)))
    assert judged[activated_later.pk].reason == Reason.PENDING
    assert judged[still_pending.pk].reason == Reason.PENDING
    later = _judged(_assembly(tree.sn, date(2026, 5, 1)))
    assert later[activated_later.pk].reason == Reason.ELIGIBLE
    assert later[still_pending.pk].reason == Reason.PENDING


def test_members_elsewhere_are_not_on_the_list(tree):
    _active(tree.kiel)
    own = _active(tree.leipzig_sued)
    assert set(_judged(_assembly(tree.leipzig, date(2026, 3, 1)))) == {own.pk}


def test_batches_keep_each_members_periods_together(tree, monkeypatch):
    monkeypatch.setattr(eligibility, "BATCH", 3)
    movers = [_active(tree.leipzig) for _ in range(4)]
    for mover in movers:
        services.transfer_member(by=None, member=mover, to=tree.dresden, on=date(2026, 2, 1))
    stay = [_active(tree.dresden) for _ in range(3)]
    judged = list(eligibility.rows(_assembly(tree.sn, date(2026, 3, 1))))
    assert sorted(r.member_id for r in judged) == sorted(m.pk for m in movers + stay)
    assert {r.division_id for r in judged} == {tree.dresden.pk}


def test_freeze_counts_changes_and_refreeze(tree, board_sn):
    paid = _active(tree.leipzig)
    owing = _active(tree.dresden)
    _owes(owing, "120.00", date(2026, 11, 1))
    pending = make_member(tree.leipzig_sued, joined_on=date(2026, 10, 1))
    assembly = _assembly(tree.sn, timezone.localdate(), by=board_sn)
    assert assemblies.freeze(assembly=assembly, by=board_sn) == 3
    frozen = dict(Entry.objects.filter(assembly=assembly).values_list("member_id", "reason"))
    assert frozen == {
        paid.pk: Reason.ELIGIBLE,
        owing.pk: Reason.ARREARS,
        pending.pk: Reason.PENDING,
    }
    counts = assemblies.counts(assembly)
    assert (counts.eligible, counts.not_eligible) == (1, 2)
    per_division = {d.code: (yes, no) for d, yes, no in counts.per_division}
    assert per_division == {"SN-L": (1, 1), "SN-DD": (0, 1)}
    assert assemblies.changes(assembly) == ([], 0)

    payments.record_payment(
        member=owing,
        amount=Decimal("120.00"),
        booked_on=timezone.localdate(),
        method="cash",
        by=None,
    )
    changed, total = assemblies.changes(assembly)
    assert total == 1
    assert (changed[0].member_id, changed[0].was, changed[0].now) == (
        owing.pk,
        str(Reason.ARREARS.label),
        str(Reason.ELIGIBLE.label),
    )
    assemblies.freeze(assembly=assembly, by=board_sn)
    assert assemblies.counts(assembly).eligible == 2
    assert assemblies.changes(assembly) == ([], 0)
    audit = AuditEntry.objects.filter(action="assembly.refreeze").get()
    assert audit.data["eligible"] == 2 and audit.data["before"] == 1


def test_a_federal_convention_asks_the_ledger_once_for_everyone(tree):
    owing = _active(tree.kiel)
    _owes(owing, "72.00", date(2026, 3, 1))
    paid = _active(tree.leipzig)
    _owes(paid, "120.00", date(2026, 3, 1))
    payments.record_payment(
        member=paid, amount=Decimal("120.00"), booked_on=date(2026, 3, 5), method="cash", by=None
    )
    judged = _judged(_assembly(tree.bund, date(2026, 6, 1)))
    assert (judged[owing.pk].reason, judged[owing.pk].owed) == (Reason.ARREARS, Decimal("72.00"))
    assert judged[owing.pk].since == date(2026, 3, 31)
    assert judged[paid.pk].reason == Reason.ELIGIBLE


def test_pending_then_and_gone_since_is_not_eligible(tree):
    never_paid = make_member(tree.leipzig, joined_on=date(2026, 1, 10))
    services.end_membership(by=None, member=never_paid, on=date(2026, 5, 1), reason=EndReason.EXIT)
    for kind in (AssemblyKind.CONVENTION, AssemblyKind.NOMINATION):
        row = _judged(_assembly(tree.sn, date(2026, 3, 1), kind=kind))[never_paid.pk]
        assert row.reason == Reason.PENDING


def test_activation_is_dated_by_the_booking_not_by_its_entry(tree):
    from tests.factories import make_fee_rules

    make_fee_rules()
    member = make_member(tree.leipzig, joined_on=date(2026, 1, 10))
    charged = Charge.objects.filter(member=member).aggregate(total=models.Sum("amount"))["total"]
    if not charged:
        _owes(member, "110.00", date(2026, 1, 10))
        charged = Decimal("110.00")
    payments.record_payment(
        member=member, amount=charged, booked_on=date(2026, 2, 1), method="cash", by=None
    )
    member.refresh_from_db()
    assert (member.status, member.active_since) == ("active", date(2026, 2, 1))
    assert _judged(_assembly(tree.sn, date(2026, 3, 1)))[member.pk].reason == Reason.ELIGIBLE
