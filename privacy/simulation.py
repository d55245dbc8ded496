"""Retention, checked by the year simulation once its year is over (finance.simulation).

Years later, retention runs twice: first it tells the members whose data is due, then, when
the notice period has passed, it anonymises them. Held against the register as it was:
- every ledger sum (per member: charges, payments, balance; per month and purpose) and every
  figure of the past (members per division on each month's first, the dashboard's figures,
  the figure tables, the membership periods) is unchanged;
- exactly the ended members who owe nothing and have nothing running are anonymised, each
  told first and no earlier than the notice period after it; nobody current is touched, and
  no name, address or e-mail of theirs is left in the record, its versions or its audit lines;
- the dry runs wrote nothing, and a third run finds nothing to do.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db.models import Sum

from finance.models import Charge, Payment
from finance.simulation import Options
from finance.simulation_checks import Violation
from members import stats
from members.models import (
    AuditEntry,
    Division,
    DivisionDay,
    DivisionMonth,
    DivisionTally,
    Member,
    MembershipPeriod,
    MemberStatus,
    MemberVersion,
)
from privacy import retention
from privacy.models import ErasureLog, RetentionNotice


def fingerprint(last: date) -> dict[str, Any]:
    """The ledger and the statistics of the past, as a page or a report would read them."""
    per_member = {
        "charges": dict(
            Charge.objects.values_list("member_id").annotate(s=Sum("amount")).order_by()
        ),
        "payments": dict(
            Payment.objects.filter(member__isnull=False)
            .values_list("member_id")
            .annotate(s=Sum("amount"))
            .order_by()
        ),
        "balances": dict(Member.objects.values_list("pk", "balance")),
    }
    by_month = sorted(
        Payment.objects.values_list("booked_on__year", "booked_on__month", "purpose")
        .annotate(s=Sum("amount"))
        .order_by()
    )
    months = [date(last.year - 1, m, 1) for m in range(1, 13)] + [
        date(last.year, m, 1) for m in range(1, last.month + 1)
    ]
    divisions = list(Division.objects.order_by("path"))
    figures = {d.code: [stats.members_on(d, m) for m in months] for d in divisions if d.depth <= 2}
    return {
        "ledger": per_member,
        "by_month": by_month,
        "members_on": figures,
        "dashboard": [repr(stats.division_figures(d, last)) for d in divisions if d.depth <= 2],
        "days": sorted(DivisionDay.objects.values_list().order_by()),
        "months": sorted(DivisionMonth.objects.values_list().order_by()),
        "tally": sorted(DivisionTally.objects.values_list().order_by()),
        "periods": sorted(MembershipPeriod.objects.values_list().order_by()),
        "register": sorted(
            Member.objects.values_list(
                "pk",
                "membership_number",
                "division_id",
                "status",
                "joined_on",
                "left_on",
                "fee_class",
                "active_since",
            )
        ),
    }


def _written() -> tuple[int, ...]:
    return (
        RetentionNotice.objects.count(),
        ErasureLog.objects.count(),
        Member.objects.filter(anonymised_on__isnull=False).count(),
        hash(tuple(Member.objects.order_by("pk").values_list("last_name", "email"))),
    )


def _differs(before: dict[str, Any], after: dict[str, Any]) -> str:
    for key in before:
        if before[key] != after[key]:
            return key
    return ""


def check_retention(last: date, options: Options) -> dict[str, int]:
    before = fingerprint(last)
    current = {
        pk: values
        for pk, *values in Member.objects.exclude(status=MemberStatus.ENDED).values_list(
            "pk", "first_name", "last_name", "email", "street", "city", "date_of_birth"
        )
    }
    keep = relativedelta(months=settings.MUSTERROLLE_RETENTION_MONTHS["register"])
    notice = relativedelta(months=settings.MUSTERROLLE_RETENTION_NOTICE_MONTHS)
    told_on = last + keep - notice + timedelta(days=1)  # every member ended by `last` is due
    due_on = told_on + notice

    written = _written()
    first = retention.plan(told_on)
    if _written() != written:
        raise Violation("retention", "the dry run wrote to the database")
    ended = set(Member.objects.filter(status=MemberStatus.ENDED).values_list("pk", flat=True))
    # The monthly job ran through the year: whom it told before may be due already.
    told = dict(RetentionNotice.objects.values_list("member_id", "due_on"))
    untold = [pk for pk in first.anonymise if pk not in told or told[pk] > told_on]
    if untold or {n.member_id for n in first.notices} - ended:
        raise Violation(
            "retention",
            f"would anonymise untold {untold[:5]} or tell current "
            f"{sorted({n.member_id for n in first.notices} - ended)[:5]}",
        )
    retention.apply(first)
    retention.list_letters(told_on)  # the office downloads the letter list,
    retention.letters_posted(on=told_on, by=None)  # prints and posts it
    second = retention.plan(due_on)
    retention.apply(second)
    if options.corrupt_retention:
        Payment.objects.filter(member__anonymised_on__isnull=False).update(amount=0)

    anonymised = set(
        Member.objects.filter(anonymised_on__isnull=False).values_list("pk", flat=True)
    )
    owing = set(Member.objects.filter(pk__in=ended).exclude(balance=0).values_list("pk", flat=True))
    if anonymised != ended - owing - _running(ended):
        raise Violation(
            "retention",
            f"anonymised {sorted(anonymised)[:10]}, expected {sorted(ended - owing)[:10]}",
        )
    notices = dict(RetentionNotice.objects.values_list("member_id", "sent_on"))
    for pk in anonymised:
        if notices.get(pk) is None or notices[pk] + notice > due_on:
            raise Violation("retention", f"member={pk} anonymised without its notice period")
    _check_nothing_left(anonymised)
    for pk, *values in Member.objects.filter(pk__in=current).values_list(
        "pk", "first_name", "last_name", "email", "street", "city", "date_of_birth"
    ):
        if values != current[pk]:
            raise Violation("retention", f"member={pk} is current and was changed")
    after = fingerprint(last)
    if key := _differs(before, after):
        raise Violation("retention", f"the past changed: {key}")

    written = _written()
    third = retention.plan(due_on)
    again = retention.apply(third)
    if _written() != written or again.anonymised or again.told:
        raise Violation("retention", "a second run changed something")
    return {"told": len(notices), "anonymised": len(anonymised), "kept": len(owing)}


def _running(ended: set[int]) -> set[int]:
    return set(
        Member.objects.filter(pk__in=ended)
        .filter(retention.disputed())
        .values_list("pk", flat=True)
    )


def _check_nothing_left(anonymised: set[int]) -> None:
    for member in Member.objects.filter(pk__in=anonymised):
        personal = [getattr(member, f) for f in retention.PERSONAL_FIELDS if f != "last_name"]
        if any(personal) or member.last_name != retention.MARKER:
            raise Violation("retention", f"member={member.pk} kept personal data")
    for version in MemberVersion.objects.filter(member_id__in=anonymised):
        for values in (version.values, version.changes):
            if any((values or {}).get(f) for f in retention.PERSONAL_FIELDS):
                raise Violation("retention", f"member={version.member_id} version kept a name")
    if (
        AuditEntry.objects.filter(
            object_type="members.member", object_id__in=[str(pk) for pk in anonymised]
        )
        .exclude(data={})
        .exists()
    ):
        raise Violation("retention", "an audit line kept a member's data")
