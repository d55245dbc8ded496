"""The split of dues between the federal party, the state associations and their districts
(DESIGN.md, rules: dues), and the quarterly payouts.

Every dues payment booked to a member is split when it is booked (`split_pending`, called
from payments.refresh in the transaction that booked it; the nightly job catches anything
missed): the federal part is MUSTERROLLE_FEDERAL_SHARE_PERCENT (50) of the payment, rounded
down to the cent; the rest is the state's, of which the district receives the state's
configured part (SharePolicy), again rounded down. Every remainder cent therefore stays
with the state association. A return is split exactly as its payment was, with the signs
turned, so that a returned debit takes back the very cents it brought.

The shares are paid out quarterly: the report lists, per state and district, everything
booked up to the quarter's end and not yet paid out; recording the payout ties those shares
to it, and a share once paid out is never changed again (a late booking of an earlier quarter
is paid with the next payout).
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, QuerySet, Sum
from django.utils.translation import gettext as _

from finance.models import Payment, Payout, Share, SharePolicy
from members import access
from members.models import Division, DivisionLevel, User

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
BATCH = 2000


def split(
    amount: Decimal, *, federal_percent: Decimal, district_percent: Decimal, has_state: bool
) -> tuple[Decimal, Decimal, Decimal]:
    """(federal, state, district) of `amount`: each part rounded down, the remainder cents
    the state's; a negative amount splits as its positive does, with the signs turned."""
    if amount < 0:
        federal, state, district = split(
            -amount,
            federal_percent=federal_percent,
            district_percent=district_percent,
            has_state=has_state,
        )
        return -federal, -state, -district
    if not has_state:  # a member of no state association: everything stays federal
        return amount, ZERO, ZERO
    federal = (amount * federal_percent / 100).quantize(CENT, rounding=ROUND_DOWN)
    state = amount - federal
    district = (state * district_percent / 100).quantize(CENT, rounding=ROUND_DOWN)
    return federal, state - district, district


def federal_percent() -> Decimal:
    return Decimal(str(settings.MUSTERROLLE_FEDERAL_SHARE_PERCENT))


def counted() -> Q:
    """Dues that reached a member's account here: the parts of a divided booking (not the
    original too), nothing carried over from the previous system (split there)."""
    return (
        Q(purpose=Payment.Purpose.DUES, member__isnull=False)
        & ~Q(match=Payment.Match.DIVIDED)
        & ~Q(method=Payment.Method.OPENING)
    )


def split_pending(member_ids: Iterable[int] | None = None) -> int:
    """Split the dues payments of these members (None: of everyone) that have no share yet;
    returns how many were split. Safe to run twice: one share per payment (a constraint)."""
    pending = Payment.objects.filter(counted(), share__isnull=True)
    if member_ids is not None:
        ids = list(set(member_ids))
        if not ids:
            return 0
        pending = pending.filter(member_id__in=ids)
    rows = list(
        pending.order_by("pk").values_list(
            "pk", "amount", "booked_on", "member__state_id", "member__division__path"
        )
    )
    if not rows:
        return 0
    districts = _districts()
    policies = dict(SharePolicy.objects.values_list("state_id", "district_percent"))
    percent = federal_percent()
    originals = _originals([pk for pk, *_rest in rows])
    shares = []
    for pk, amount, booked_on, state_id, path in rows:
        district_id = districts.get(path[: 3 * Division.steplen]) if path else None
        original = originals.get(pk)
        if original is not None and original.amount == -amount:
            # A return takes back exactly what its payment brought, wherever the member is now.
            federal, state, district = (
                -original.federal_amount,
                -original.state_amount,
                -original.district_amount,
            )
            state_id, district_id = original.state_id, original.district_id
        else:
            federal, state, district = split(
                amount,
                federal_percent=percent,
                district_percent=policies.get(state_id, ZERO) if district_id else ZERO,
                has_state=state_id is not None,
            )
        shares.append(
            Share(
                payment_id=pk,
                booked_on=booked_on,
                state_id=state_id,
                district_id=district_id,
                amount=amount,
                federal_amount=federal,
                state_amount=state,
                district_amount=district,
            )
        )
    Share.objects.bulk_create(shares, batch_size=BATCH)
    return len(shares)


def _districts() -> dict[str, int]:
    return dict(Division.objects.filter(level=DivisionLevel.DISTRICT).values_list("path", "pk"))


def _originals(payment_ids: list[int]) -> dict[int, Share]:
    """The shares of the payments these returns reverse."""
    reversing = dict(
        Payment.objects.filter(pk__in=payment_ids, reverses__isnull=False).values_list(
            "pk", "reverses_id"
        )
    )
    found = {s.payment_id: s for s in Share.objects.filter(payment_id__in=reversing.values())}
    return {pk: found[original] for pk, original in reversing.items() if original in found}


# --- Sums ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Sums:
    received: Decimal  # the dues split
    federal: Decimal
    state: Decimal
    district: Decimal

    @property
    def adds_up(self) -> bool:
        return self.federal + self.state + self.district == self.received


def sums(start: date, end: date) -> Sums:
    """The shares of the dues booked from `start` to `end` (inclusive)."""
    totals = Share.objects.filter(booked_on__gte=start, booked_on__lte=end).aggregate(
        received=Sum("amount"),
        federal=Sum("federal_amount"),
        state=Sum("state_amount"),
        district=Sum("district_amount"),
    )
    return Sums(**{key: _cents(value) for key, value in totals.items()})


def _cents(value: Decimal | None) -> Decimal:
    """A sum to the cent (SQLite adds decimals as binary floats; PostgreSQL exactly)."""
    return (value or ZERO).quantize(CENT)


def dues_received(start: date, end: date) -> Decimal:
    """The dues booked to members in the period, read from the payments themselves."""
    total = Payment.objects.filter(counted(), booked_on__gte=start, booked_on__lte=end).aggregate(
        total=Sum("amount")
    )["total"]
    return _cents(total)


@dataclass(frozen=True)
class StateFigures:
    received_month: Decimal  # the state's and its districts' shares booked this month
    received_year: Decimal
    owed: Decimal  # booked up to the month's end, not yet paid out
    paid_out_year: Decimal


def state_figures(state: Division, period: date, end: date) -> StateFigures:
    """For a state's monthly statement: what it received (its own and its districts'
    shares), what is owed to it and what was paid out this year."""
    mine = Share.objects.filter(state=state)

    def total(shares: QuerySet[Share]) -> Decimal:
        return _cents(shares.aggregate(total=Sum("state_amount") + Sum("district_amount"))["total"])

    paid = Payout.objects.filter(
        state=state,
        recorded_at__date__gte=date(period.year, 1, 1),
        recorded_at__date__lt=end,
    ).aggregate(total=Sum("state_amount") + Sum("district_amount"))["total"]
    # Owed at the month's end: booked by then, not paid out by then.
    unpaid = Q(payout__isnull=True) | Q(payout__recorded_at__date__gte=end)
    return StateFigures(
        received_month=total(mine.filter(booked_on__gte=period, booked_on__lt=end)),
        received_year=total(mine.filter(booked_on__gte=date(period.year, 1, 1), booked_on__lt=end)),
        owed=total(mine.filter(unpaid, booked_on__lt=end)),
        paid_out_year=_cents(paid),
    )


# --- Payouts ---------------------------------------------------------------------------


def quarter_of(day: date) -> tuple[date, date]:
    """The first and the last day of the quarter `day` lies in."""
    first = date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    following = date(first.year + (first.month == 10), (first.month + 2) % 12 + 1, 1)
    return first, following - timedelta(days=1)


@dataclass(frozen=True)
class PayoutRow:
    division_id: int
    code: str
    name: str
    level: str
    state_code: str
    amount: Decimal  # booked up to the quarter's end, not yet paid out
    payments: int


def payout_rows(quarter: date) -> list[PayoutRow]:
    """Per state association and district: what the payout of the quarter pays."""
    _first, last = quarter_of(quarter)
    open_shares = Share.objects.filter(
        payout__isnull=True, booked_on__lte=last, state__isnull=False
    )
    figures = {
        state_id: (amount, n)
        for state_id, amount, n in open_shares.values("state_id")
        .annotate(amount=Sum("state_amount"), n=Count("pk"))
        .values_list("state_id", "amount", "n")
    }
    figures.update(
        {
            district_id: (amount, n)
            for district_id, amount, n in open_shares.filter(district__isnull=False)
            .values("district_id")
            .annotate(amount=Sum("district_amount"), n=Count("pk"))
            .values_list("district_id", "amount", "n")
            if amount  # a state that passes nothing down: no rows for its districts
        }
    )
    states = dict(Division.objects.filter(level=DivisionLevel.STATE).values_list("path", "code"))
    rows = []
    for division in Division.objects.filter(pk__in=list(figures)).order_by("path"):
        amount, n = figures[division.pk]
        rows.append(
            PayoutRow(
                division_id=division.pk,
                code=division.code,
                name=division.name,
                level=division.level,
                state_code=states.get(division.path[: 2 * Division.steplen], ""),
                amount=_cents(amount),
                payments=n,
            )
        )
    return rows


def payout_workbook(quarter: date) -> bytes:
    """The quarter's payout report as .xlsx: a row per state association and district, the
    sum at the end (what the federal treasurer transfers)."""
    import xlsxwriter

    from members.spreadsheets import neutralise

    first, last = quarter_of(quarter)
    rows = payout_rows(quarter)
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet(f"{first:%Y}-Q{(first.month + 2) // 3}")
    money = book.add_format({"num_format": "#,##0.00"})
    bold = book.add_format({"bold": True})
    bold_money = book.add_format({"bold": True, "num_format": "#,##0.00"})
    sheet.write_row(
        0, 0, ["Landesverband", "Gliederung", "Kürzel", "Ebene", "Zahlungen", "Auszuzahlen (€)"]
    )
    labels = dict(DivisionLevel.choices)
    for index, row in enumerate(rows, start=1):
        sheet.write_string(index, 0, row.state_code)
        sheet.write_string(index, 1, neutralise(row.name))
        sheet.write_string(index, 2, row.code)
        sheet.write_string(index, 3, str(labels.get(row.level, row.level)))
        sheet.write_number(index, 4, row.payments)
        sheet.write_number(index, 5, row.amount, money)
    total_row = len(rows) + 1
    sheet.write_string(total_row, 0, "Summe", bold)
    # The sum as a number (what the ledger says) and not a formula: it opens the same
    # everywhere, even where formulas are not recalculated.
    sheet.write_number(total_row, 5, sum((r.amount for r in rows), ZERO), bold_money)
    sheet.write_string(total_row + 2, 0, f"Gebucht bis {last:%d.%m.%Y}, noch nicht ausgezahlt")
    sheet.set_column(0, 0, 14)
    sheet.set_column(1, 1, 40)
    sheet.set_column(5, 5, 16)
    book.close()
    return buffer.getvalue()


@transaction.atomic
def record_payout(*, quarter: date, state: Division, by: User | None) -> Payout:
    """The federal treasurer paid the state and its districts their open shares up to the
    quarter's end: the shares are tied to the payout and locked from now on."""
    from members.services import record_audit

    if by is not None and not access.has_global_access(by):
        raise PermissionDenied(_("Only the federal office records payouts."))
    if state.level != DivisionLevel.STATE:
        raise ValidationError(_("Payouts go to state associations."))
    first, last = quarter_of(quarter)
    try:
        with transaction.atomic():
            payout = Payout.objects.create(
                quarter=first, state=state, state_amount=ZERO, district_amount=ZERO, recorded_by=by
            )
    except IntegrityError as error:
        raise ValidationError(
            _("The payout of this quarter to %(state)s is recorded already.")
            % {"state": state.name}
        ) from error
    # Tied first, summed after: a share booked meanwhile is either in both or in neither.
    tied = Share.objects.filter(state=state, payout__isnull=True, booked_on__lte=last).update(
        payout=payout
    )
    if not tied:
        raise ValidationError(
            _("Nothing is owed to %(state)s up to the end of this quarter.") % {"state": state.name}
        )
    totals = payout.shares.aggregate(state=Sum("state_amount"), district=Sum("district_amount"))
    payout.state_amount = _cents(totals["state"])
    payout.district_amount = _cents(totals["district"])
    if payout.state_amount + payout.district_amount <= 0:
        # Returns outweigh the dues: nothing to pay; the shares stay open and are set off
        # against the next quarter's (the transaction is rolled back).
        raise ValidationError(
            _("Nothing is owed to %(state)s up to the end of this quarter.") % {"state": state.name}
        )
    payout.save(update_fields=["state_amount", "district_amount"])
    record_audit(
        actor=by,
        action="payout.record",
        obj=payout,
        division=state,
        summary=f"Payout {payout}: {payout.state_amount} € state, {payout.district_amount} € districts",
        data={"state": str(payout.state_amount), "district": str(payout.district_amount)},
    )
    return payout
