"""Demo fee rules, last year's and this year's dues, most of them paid, and the last months'
statements, prepared but not sent (called by seed_demo)."""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import Min, Sum
from django.utils import timezone

from finance import payments, receipts, services, shares, statements
from finance.models import FeeRule, Mandate, Payment, Payout, Share, SharePolicy
from members.models import Division, DivisionLevel, FeeClass, Member, MemberStatus

# The treasurer's statements page has something to show on a first run.
STATEMENT_MONTHS = 3


class Command(BaseCommand):
    help = "Load demo fee rules, dues and payments (idempotent)."

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        if not FeeRule.objects.exists():
            self._dues()
        if not Mandate.objects.exists():
            self._mandates()
        self._statements()
        # The federal office's wording of the contribution receipts, to adapt in the admin.
        receipts.current_wording()

    def _statements(self) -> None:
        """Made the way the monthly run makes them, without sending: nobody gets an e-mail,
        and the run on the 1st still sends last month's as usual."""
        period = statements.last_month(timezone.localdate())
        states = list(Division.objects.filter(level=DivisionLevel.STATE))
        for _ in range(STATEMENT_MONTHS):
            for state in states:
                statements.prepare(state, period)
            period = statements.last_month(period)
        self.stdout.write(f"Demo statements of the last {STATEMENT_MONTHS} months prepared.")

    def _dues(self) -> None:
        # The finance order of 2025: regular dues tiered by income, minors 12 €, reductions.
        tiers = "72,120,180,240,360,480,600"
        for fee_class, amount in (
            ("regular", "120.00"),
            ("reduced", "36.00"),
            ("minor", "12.00"),
            ("exempt", "0.00"),
        ):
            FeeRule.objects.create(
                fee_class=fee_class,
                yearly_amount=Decimal(amount),
                valid_from=date(2016, 1, 1),
                tiers=tiers if fee_class == "regular" else "",
            )
        year = timezone.localdate().year
        for dues_year in (year - 1, year):
            # As the yearly run charged them on 2 January (due on 1 March).
            services.run_dues(year=dues_year, as_of=date(dues_year, 1, 2))
        rng = random.Random(5)  # noqa: S311 - demo data
        rows = []
        owed = (
            Member.objects.filter(charges__isnull=False)
            .annotate(total=Sum("charges__amount"), first_due=Min("charges__due_on"))
            .values_list("pk", "membership_number", "total", "first_due")
        )
        today = timezone.localdate()
        for member_id, number, total, first_due in owed:
            if rng.random() < 0.85:  # most pay everything, a few nothing
                late = rng.choice([0, 0, 0, 0, 12, 45, 130, 170])  # some weeks or months late
                rows.append(
                    Payment(
                        member_id=member_id,
                        match=Payment.Match.NUMBER,
                        amount=total,
                        booked_on=min(first_due + timedelta(days=late), today),
                        reference=f"MB{year} {number}",
                    )
                )
        # A few donations last year: the contribution receipts confirm them with the dues.
        rows += [
            Payment(
                member_id=member_id,
                match=Payment.Match.NUMBER,
                amount=Decimal(rng.choice(["25.00", "50.00", "100.00", "250.00"])),
                booked_on=date(year - 1, rng.randint(1, 12), rng.randint(1, 28)),
                purpose=Payment.Purpose.DONATION,
                reference=f"Spende {number}",
            )
            for member_id, number, _total, first_due in owed
            if first_due.year < year and rng.random() < 0.1
        ]
        Payment.objects.bulk_create(rows, batch_size=2000)
        # Every member's state from the ledger, exempt ones included; whoever paid is active.
        payments.recompute_all()
        self._shares(year)
        self.stdout.write(f"Demo dues and {len(rows)} payments added.")

    def _shares(self, year: int) -> None:
        """Sachsen passes a fifth of its share down to its districts; the dues are split and
        paid out quarter by quarter, ten days after each, up to this year's second quarter
        (the third is open: its report is in the admin)."""
        sachsen = Division.objects.filter(code="SN", level=DivisionLevel.STATE).first()
        if sachsen is not None:
            SharePolicy.objects.get_or_create(state=sachsen, defaults={"district_percent": 20})
        shares.split_pending()
        first = Share.objects.aggregate(first=Min("booked_on"))["first"]
        if first is None:
            return
        quarter = shares.quarter_of(first)[0]
        last = min(date(year, 4, 1), shares.quarter_of(timezone.localdate())[0])
        while quarter < last:
            owed = [row.division_id for row in shares.payout_rows(quarter) if row.level == "state"]
            end = shares.quarter_of(quarter)[1]
            paid_at = datetime.combine(
                end + timedelta(days=10), time(12), tzinfo=timezone.get_current_timezone()
            )
            for state in Division.objects.filter(pk__in=owed):
                payout = shares.record_payout(quarter=quarter, state=state, by=None)
                Payout.objects.filter(pk=payout.pk).update(recorded_at=paid_at)
            quarter = end + timedelta(days=1)

    def _mandates(self) -> None:
        """Four in ten members pay by direct debit (a fifth of the regular ones monthly, from
        next year's dues); one mandate was revoked, one came back
        unusable (the collection's dry run shows why they are skipped)."""
        from schwifty import IBAN

        rng = random.Random(7)  # noqa: S311 - demo data
        rows = []
        members = (
            Member.objects.exclude(status=MemberStatus.ENDED)
            .order_by("pk")
            .values_list(
                "pk", "membership_number", "first_name", "last_name", "joined_on", "fee_class"
            )
        )
        today = timezone.localdate()
        for pk, number, first, last, joined_on, fee_class in members:
            if rng.random() >= 0.4:
                continue
            iban = IBAN.generate("DE", bank_code="37040044", account_code=str(number))
            rows.append(
                Mandate(
                    member_id=pk,
                    reference=f"MR-{number}-1",
                    # Signed with the membership form or some time after it.
                    signed_on=min(joined_on + timedelta(days=rng.randrange(400)), today),
                    holder=f"{first} {last}"[:70],
                    iban=iban.compact,
                    bic=str(iban.bic or ""),
                    # Some pay monthly (regular dues: at least 36 € a year).
                    monthly=fee_class == FeeClass.REGULAR and rng.random() < 0.2,
                )
            )
        if len(rows) > 2:
            rows[0].revoked_on = today - timedelta(days=20)
            rows[1].unusable_since, rows[1].unusable_reason = today - timedelta(days=40), "AC04"
        Mandate.objects.bulk_create(rows, batch_size=2000)
        self.stdout.write(f"Demo: {len(rows)} SEPA mandates.")
