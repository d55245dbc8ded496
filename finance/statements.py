"""Monthly statements ("Kontoauszug") per state association: made once, sent once.

One statement per state and month by database constraint; sending claims the statement
first, so a second trigger, a retried task or two racing workers send nothing extra.
"""

from __future__ import annotations

import io
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Sum
from django.utils import timezone

from finance.models import MonthlyStatement, Payment
from finance.payments import InArrears, arrears_on, payment_states
from finance.references import reference_for
from members import access, stats
from members.access import Action
from members.exports import PAYMENT_LABELS, STATUS_LABELS
from members.models import (
    TRANSFER_OUT,
    ChangeRequest,
    Division,
    DivisionLevel,
    Member,
    MembershipPeriod,
    PaymentStatus,
    PeriodStart,
    RequestStatus,
    User,
)
from members.services import record_audit
from members.spreadsheets import neutralise
from outbox import services as outbox

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


CENT = Decimal("0.01")


def last_month(today: date) -> date:
    first = today.replace(day=1)
    return (first - timedelta(days=1)).replace(day=1)


def _next_month(period: date) -> date:
    return (period.replace(day=28) + timedelta(days=4)).replace(day=1)


def file_name(statement: MonthlyStatement) -> str:
    """The workbook's name, in the e-mail and on download."""
    return f"kontoauszug-{statement.division.code}-{statement.period:%Y-%m}.xlsx"


def recipients(division: Division) -> list[str]:
    """Everyone who holds a role on the state association that receives statements."""
    return sorted(
        set(
            access.holders(Action.RECEIVE_STATEMENT, [division]).values_list(
                "user__email", flat=True
            )
        )
    )


def figures(
    division: Division, period: date, arrears: list[InArrears] | None = None
) -> dict[str, Any]:
    """The month's figures of the division; `arrears` are its members in arrears at the end of
    the month when already read (prepare_all reads them for all states at once)."""
    end = _next_month(period)
    last_day = end - timedelta(days=1)
    periods = MembershipPeriod.objects.filter(division__path__startswith=division.path)
    entries = periods.filter(
        start_kind=PeriodStart.ENTRY, started_on__gte=period, started_on__lt=end
    )
    exits = periods.filter(ended_on__gte=period, ended_on__lt=end).exclude(end_kind=TRANSFER_OUT)
    members = Member.objects.in_subtree(division)
    paid = Payment.objects.filter(
        member__in=members, booked_on__gte=period, booked_on__lt=end
    ).aggregate(count=Count("pk"), total=Sum("amount"))
    if arrears is None:
        arrears = _arrears(division, last_day)
    applied = ChangeRequest.objects.filter(
        division__path__startswith=division.path,
        status=RequestStatus.APPLIED,
        decided_at__date__gte=period,
        decided_at__date__lt=end,
    )

    def person(row: dict[str, Any]) -> dict[str, Any]:
        return {
            "number": row["member__membership_number"],
            "name": f"{row['member__first_name']} {row['member__last_name']}",
        }

    fields = ["member__membership_number", "member__first_name", "member__last_name"]
    arrears_list = sorted(
        (
            {
                "number": row.membership_number,
                "name": f"{row.first_name} {row.last_name}",
                "since": row.since.isoformat(),
                "amount": str(-row.balance),
            }
            for row in arrears
        ),
        key=lambda row: (row["since"], row["name"]),
    )
    return {
        "period": period.isoformat(),
        "members_at_start": stats.members_on(division, period),
        "members_at_end": stats.members_on(division, last_day),
        "entries": [person(row) for row in entries.order_by("member__last_name").values(*fields)],
        "exits": [person(row) for row in exits.order_by("member__last_name").values(*fields)],
        "payments_count": paid["count"] or 0,
        "payments_total": str(Decimal(paid["total"] or 0).quantize(Decimal("0.01"))),
        "arrears": arrears_list,
        "arrears_total": str(sum((-row.balance for row in arrears), Decimal("0.00"))),
        "newly_in_arrears": [
            row
            for row in arrears_list
            if row["since"] and period.isoformat() <= row["since"] < end.isoformat()
        ],
        "changes_applied": applied.count(),
        **_shares(division, period, end),
    }


def _shares(division: Division, period: date, end: date) -> dict[str, str]:
    """The state association's share of the dues (with its districts'): received this
    month and this year, owed to it (not yet paid out) and paid out this year."""
    from finance import shares

    if division.level != DivisionLevel.STATE:
        return {}
    found = shares.state_figures(division, period, end)
    return {
        "share_month": str(found.received_month.quantize(CENT)),
        "share_year": str(found.received_year.quantize(CENT)),
        "share_owed": str(found.owed.quantize(CENT)),
        "share_paid_out": str(found.paid_out_year.quantize(CENT)),
    }


def _arrears(division: Division, on: date) -> list[InArrears]:
    """The division's current members in arrears on a day (one statement on its own)."""
    states = payment_states(None, on, subtree=division.path)
    late = {pk: state for pk, state in states.items() if state[1] == PaymentStatus.IN_ARREARS}
    people = Member.objects.in_subtree(division).filter(pk__in=list(late))
    return [
        InArrears(state_id, pk, number, first, last, late[pk][0], late[pk][2])
        for state_id, pk, number, first, last in people.values_list(
            "state_id", "pk", "membership_number", "first_name", "last_name"
        )
    ]


def workbook(division: Division, period: date) -> bytes:
    """Every member of the state with payment status, as .xlsx (constant memory).

    XlsxWriter writes each row as it comes (half openpyxl's time for the hundred thousand
    rows of a large state); texts are written as texts, never as formulas, and neutralised
    all the same for programs that read them again."""
    import xlsxwriter

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"constant_memory": True})
    sheet = book.add_worksheet(f"{period:%Y-%m}")
    money = book.add_format({"num_format": "#,##0.00"})
    day = book.add_format({"num_format": "DD.MM.YYYY"})
    sheet.write_row(
        0,
        0,
        [
            "Mitgliedsnummer",
            "Vorname",
            "Nachname",
            "Gliederung",
            "Status",
            "Zahlungsstatus",
            "Saldo (€)",
            "Im Rückstand seit",
            "Verwendungszweck",
        ],
    )
    labels, status = PAYMENT_LABELS, STATUS_LABELS
    rows = (
        Member.objects.in_subtree(division)
        .exclude(status="ended")
        .order_by("last_name", "first_name", "membership_number")
        .values_list(
            "membership_number",
            "first_name",
            "last_name",
            "division__code",
            "status",
            "payment_status",
            "balance",
            "arrears_since",
        )
        .iterator(chunk_size=5000)
    )
    for row, (number, first, last, code, member_status, payment, balance, since) in enumerate(
        rows, start=1
    ):
        sheet.write_number(row, 0, number)
        sheet.write_string(row, 1, neutralise(first))
        sheet.write_string(row, 2, neutralise(last))
        sheet.write_string(row, 3, code)
        sheet.write_string(row, 4, status[member_status])
        sheet.write_string(row, 5, labels[payment])
        sheet.write_number(row, 6, balance, money)
        if since is not None:
            sheet.write_datetime(row, 7, since, day)
        sheet.write_string(row, 8, reference_for(number, period.year))
    book.close()
    return buffer.getvalue()


def prepare(
    division: Division, period: date, arrears: list[InArrears] | None = None
) -> MonthlyStatement:
    """The statement of the state and month: made the first time, found every other time."""
    existing = MonthlyStatement.objects.filter(division=division, period=period).first()
    if existing is not None:
        return existing
    made = MonthlyStatement(
        division=division,
        period=period,
        figures=figures(division, period, arrears),
        workbook=workbook(division, period),
    )
    try:
        with transaction.atomic():
            made.save()
    except IntegrityError:  # another worker made it a moment ago
        return MonthlyStatement.objects.get(division=division, period=period)
    return made


@transaction.atomic
def send(statement: MonthlyStatement, *, again: bool = False, by: User | None = None) -> int:
    """E-mail the statement to its recipients; returns how many e-mails were queued.

    Claimed first: only the call that moves it from ready to sending queues e-mails.
    `again` (the federal office's resend from the admin) sends a sent statement once more.
    """
    source = MonthlyStatement.Status.SENT if again else MonthlyStatement.Status.READY
    claimed = MonthlyStatement.objects.filter(pk=statement.pk, status=source).update(
        status=MonthlyStatement.Status.SENDING
    )
    if not claimed:
        return 0
    statement.refresh_from_db()
    to = recipients(statement.division)
    filename = file_name(statement)
    for address in to:
        outbox.send_templated(
            name="monthly_statement",
            to=[address],
            context={
                "statement": statement,
                "figures": statement.figures,
                "site_url": settings.SITE_URL,
            },
            attachments=[(filename, bytes(statement.workbook), XLSX)],
        )
    MonthlyStatement.objects.filter(pk=statement.pk).update(
        status=MonthlyStatement.Status.SENT, sent_at=timezone.now(), recipients=to
    )
    record_audit(
        actor=by,
        action="monthly_statement.sent_again" if again else "monthly_statement.sent",
        obj=statement,
        division=statement.division,
        summary=f"Statement {statement.period:%Y-%m} of {statement.division.code} sent to {len(to)}",
        data={"recipients": len(to)},
    )
    return len(to)


def prepare_all(period: date) -> list[MonthlyStatement]:
    """Every state's statement of the month. Who is in arrears at its end is read for all
    states in one pass over the ledger; the states not yet made are then made one by one."""
    states = list(Division.objects.filter(level=DivisionLevel.STATE).order_by("name"))
    made = set(MonthlyStatement.objects.filter(period=period).values_list("division_id", flat=True))
    by_state: dict[int | None, list[InArrears]] = {}
    if any(state.pk not in made for state in states):
        for row in arrears_on(_next_month(period) - timedelta(days=1)):
            by_state.setdefault(row.state_id, []).append(row)
    return [prepare(state, period, by_state.get(state.pk, [])) for state in states]


def send_all(
    *, period: date, division: Division | None = None, dry_run: bool = False
) -> list[tuple[Division, int]]:
    """Each state's statement of the month to its recipients (or, dry, how many each has);
    `division` narrows it to that state."""
    states = Division.objects.filter(level=DivisionLevel.STATE).order_by("name")
    if division is not None:
        states = states.filter(pk=division.pk)
    if dry_run:
        return [(state, len(recipients(state))) for state in states]
    made = prepare_all(period) if division is None else [prepare(state, period) for state in states]
    return [(statement.division, send(statement)) for statement in made]
