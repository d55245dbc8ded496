"""Dues and donations per person and year, across all divisions (the party's annual report;
DESIGN.md, reports). Matched money is reported by member; a donation nobody could match is
reported by the payer's name and IBAN, so that no cent is left out of the report."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from decimal import Decimal

from django.db.models import DecimalField, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce

from finance.models import Payment
from members.exports import Echo
from members.spreadsheets import neutralise

COLUMNS = [
    "Mitgliedsnummer",
    "Vorname",
    "Nachname",
    "Straße",
    "PLZ",
    "Ort",
    "Zahler (ohne Zuordnung)",
    "IBAN (ohne Zuordnung)",
    "Beiträge (€)",
    "Spenden (€)",
]
ZERO = Value(Decimal(0), output_field=DecimalField(max_digits=12, decimal_places=2))


def counted(year: int) -> Q:
    """Money of the year that reached a person's account: parts of a divided booking count,
    the divided original does not (it would count twice); other money is nobody's."""
    return Q(
        booked_on__year=year, purpose__in=[Payment.Purpose.DUES, Payment.Purpose.DONATION]
    ) & ~Q(match=Payment.Match.DIVIDED)


def members(year: int) -> QuerySet[Payment, int]:
    """The ids of the members in the year's report."""
    return (
        Payment.objects.filter(counted(year), member__isnull=False)
        .values_list("member_id", flat=True)
        .distinct()
        .order_by()
    )


def rows(year: int) -> Iterator[list[object]]:
    """One row per member who paid dues or gave, then one per unmatched donor."""
    by_member = (
        Payment.objects.filter(counted(year), member__isnull=False)
        .values(
            "member__membership_number",
            "member__first_name",
            "member__last_name",
            "member__street",
            "member__postal_code",
            "member__city",
        )
        .annotate(
            dues=Coalesce(Sum("amount", filter=Q(purpose=Payment.Purpose.DUES)), ZERO),
            donations=Coalesce(Sum("amount", filter=Q(purpose=Payment.Purpose.DONATION)), ZERO),
        )
        .order_by("member__membership_number")
    )
    for row in by_member.iterator(chunk_size=2000):
        yield [
            row["member__membership_number"],
            row["member__first_name"],
            row["member__last_name"],
            row["member__street"],
            row["member__postal_code"],
            row["member__city"],
            "",
            "",
            row["dues"],
            row["donations"],
        ]
    unmatched = (
        Payment.objects.filter(counted(year), member__isnull=True, purpose=Payment.Purpose.DONATION)
        .values("counterparty_name", "counterparty_iban")
        .annotate(donations=Sum("amount"))
        .order_by("counterparty_name", "counterparty_iban")
    )
    for row in unmatched.iterator(chunk_size=2000):
        yield [
            "",
            "",
            "",
            "",
            "",
            "",
            row["counterparty_name"],
            row["counterparty_iban"],
            Decimal(0),
            row["donations"],
        ]


def csv_lines(year: int) -> Iterator[str]:
    """Semicolons and decimal commas, as German spreadsheets expect; a BOM for Excel."""
    writer = csv.writer(Echo(), delimiter=";")
    yield "\ufeff" + writer.writerow(COLUMNS)
    for row in rows(year):
        yield writer.writerow(
            [
                f"{v:.2f}".replace(".", ",")
                if isinstance(v, Decimal)
                else neutralise(v)
                if isinstance(v, str)
                else v
                for v in row
            ]
        )
