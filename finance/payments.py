"""Payments: manual entries, bank statement imports with matching, and each member's
balance and payment status, computed in SQL and stored on the member row."""

from __future__ import annotations

import hashlib
import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import NamedTuple

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import Max, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from finance.camt import Booking, StatementError, parse
from finance.models import BankStatement, BankUpload, Charge, OpeningBalance, Payment
from finance.references import numbers_in
from members import access
from members import services as members
from members.models import Division, FeeClass, Member, MemberStatus, PaymentStatus, User
from members.policy import Owed
from members.services import record_audit
from ops import dispatch

logger = logging.getLogger(__name__)
DONATION = re.compile(r"\bspende", re.IGNORECASE)
BATCH = 2000

# A member's balance is everything paid as dues minus every charge already due. Arrears are
# counted from the charges whose grace period has run out: cumulated in the order of that
# day (overdue_on), the first at which they exceed everything paid is when the arrears
# began. Only joins and aggregates, so it stays linear in the number of rows; portable SQL
# (PostgreSQL and SQLite). The chosen members filter the ledger by `IN`: both databases then
# read a few members' rows through the member indexes instead of joining the whole ledger
# (for everybody, {charges_of} and {payments_of} are empty and the ledger is read whole).
# The running sums, the costly part, are taken only for members who may be in arrears: whose
# overdue charges (the positive ones: a prefix sum never exceeds them) exceed what they paid.
STATES_SQL = """
WITH chosen AS ({chosen}),
charged AS (
    SELECT c.member_id, c.overdue_on, SUM(c.amount) AS amount
    FROM finance_charge c
    WHERE {charges_of} c.due_on <= %(on)s
    GROUP BY c.member_id, c.overdue_on
), totals AS (
    SELECT member_id, SUM(amount) AS amount,
           SUM(CASE WHEN overdue_on <= %(on)s AND amount > 0 THEN amount ELSE 0 END) AS overdue
    FROM charged GROUP BY member_id
), paid AS (
    SELECT p.member_id, SUM(p.amount) AS amount
    FROM finance_payment p
    WHERE {payments_of} p.booked_on <= %(on)s AND p.purpose = 'dues'
    GROUP BY p.member_id
), owing AS (
    SELECT t.member_id, COALESCE(p.amount, 0) AS paid
    FROM totals t LEFT JOIN paid p ON p.member_id = t.member_id
    WHERE t.overdue > COALESCE(p.amount, 0)
), running AS (
    SELECT c.member_id, c.overdue_on,
           SUM(c.amount) OVER (PARTITION BY c.member_id ORDER BY c.overdue_on) AS cumulated
    FROM charged c WHERE c.overdue_on <= %(on)s
      AND c.member_id IN (SELECT member_id FROM owing)
), firsts AS (
    SELECT r.member_id, MIN(r.overdue_on) AS since
    FROM running r JOIN owing o ON o.member_id = r.member_id
    WHERE r.cumulated > o.paid GROUP BY r.member_id
)
SELECT m.id, m.fee_class, COALESCE(p.amount, 0) - COALESCE(t.amount, 0) AS balance, f.since
FROM chosen m
LEFT JOIN totals t ON t.member_id = m.id
LEFT JOIN paid p ON p.member_id = m.id
LEFT JOIN firsts f ON f.member_id = m.id
"""
IN_CHOSEN = {
    "charges_of": "c.member_id IN (SELECT id FROM chosen) AND",
    "payments_of": "p.member_id IN (SELECT id FROM chosen) AND",
}
WHOLE_LEDGER = {"charges_of": "", "payments_of": ""}
# The chosen members, each with its fee class (exempt members are never "due").
ALL_MEMBERS = "SELECT id, fee_class FROM members_member"
SUBTREE = (
    "SELECT m.id, m.fee_class FROM members_member m "
    "JOIN members_division d ON d.id = m.division_id "
    "WHERE d.path LIKE %(path)s AND m.status <> 'ended'"
)
# A state's members through their own state column and its index, not the whole table.
STATE = (
    "SELECT id, fee_class FROM members_member "
    "WHERE state_id = (SELECT id FROM members_division WHERE path = %(path)s) "
    "AND status <> 'ended'"
)


# Everyone in arrears on a day, with what a statement lists of them: one pass over the ledger
# for all states at once (the monthly statements), instead of one per state.
ARREARS_SQL = """
SELECT m.state_id, m.id, m.membership_number, m.first_name, m.last_name, s.balance, s.since
FROM ({states}) AS s
JOIN members_member m ON m.id = s.id
WHERE s.since IS NOT NULL
"""
CURRENT_MEMBERS = "SELECT id, fee_class FROM members_member WHERE status <> 'ended'"


class InArrears(NamedTuple):
    state_id: int | None
    pk: int
    membership_number: int
    first_name: str
    last_name: str
    balance: Decimal
    since: date


def arrears_on(on: date) -> list[InArrears]:
    """The current members in arrears on a day (balance negative, since a date), all states."""
    states = STATES_SQL.format(chosen=CURRENT_MEMBERS, **WHOLE_LEDGER)
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":  # the whole ledger's sums, without spilling to disk
            cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute(ARREARS_SQL.format(states=states), {"on": on})
        return [
            InArrears(
                state,
                pk,
                number,
                first,
                last,
                Decimal(balance or 0).quantize(Decimal("0.01")),
                since if isinstance(since, date) else date.fromisoformat(since),
            )
            for state, pk, number, first, last, balance, since in cursor.fetchall()
        ]


def payment_states(
    member_ids: Iterable[int] | None, on: date, *, subtree: str | None = None
) -> dict[int, tuple[Decimal, str, date | None]]:
    """Balance, status and arrears date of members on a day: the given ids, the current
    members of a subtree (its path), or everybody; one query per batch."""
    result: dict[int, tuple[Decimal, str, date | None]] = {}
    queries: list[tuple[str, dict[str, object]]] = []
    if member_ids is not None:
        ids = sorted(set(member_ids))
        for start in range(0, len(ids), BATCH):
            batch = ids[start : start + BATCH]
            marks = ", ".join(f"%(m{i})s" for i in range(len(batch)))
            queries.append(
                (
                    f"SELECT id, fee_class FROM members_member WHERE id IN ({marks})",  # noqa: S608 - placeholders only
                    {f"m{i}": pk for i, pk in enumerate(batch)},
                )
            )
    elif subtree is not None and len(subtree) == 2 * Division.steplen:
        queries.append((STATE, {"path": subtree}))
    elif subtree is not None:
        queries.append((SUBTREE, {"path": subtree + "%"}))
    else:
        queries.append((ALL_MEMBERS, {}))
    for chosen, params in queries:
        with connection.cursor() as cursor:
            cursor.execute(STATES_SQL.format(chosen=chosen, **IN_CHOSEN), {"on": on, **params})
            for pk, fee_class, balance, since in cursor.fetchall():
                balance = Decimal(balance or 0).quantize(Decimal("0.01"))
                if isinstance(since, str):
                    since = date.fromisoformat(since)
                if since is not None:
                    result[pk] = (balance, PaymentStatus.IN_ARREARS, since)
                elif balance < 0:
                    result[pk] = (balance, PaymentStatus.DUE, None)
                elif fee_class == FeeClass.EXEMPT:
                    result[pk] = (balance, PaymentStatus.EXEMPT, None)
                else:
                    result[pk] = (balance, PaymentStatus.PAID_UP, None)
    return result


def refresh(member_ids: Iterable[int]) -> None:
    """Store the current state of these members and make those active whose first dues are
    now paid; call it in the transaction that changed them."""
    ids = [pk for pk in set(member_ids) if pk]
    if ids:
        members.set_payment_states(payment_states(ids, timezone.localdate()))
        activate_settled(ids)
        from finance import shares  # the dues just booked, split between the divisions

        shares.split_pending(ids)


def first_dues_paid(member_ids: Iterable[int]) -> list[int]:
    """Of these pending members, those whose first dues are paid in full: dues payments at
    least the net charge of their first charged year (exempt members owe none)."""
    pending = dict(
        Member.objects.filter(pk__in=list(member_ids), status=MemberStatus.PENDING).values_list(
            "pk", "fee_class"
        )
    )
    if not pending:
        return []
    first: dict[int, Decimal] = {}
    for member_id, _year, net in (
        Charge.objects.filter(member_id__in=pending)
        .values("member_id", "year")
        .annotate(net=Sum("amount"))
        .values_list("member_id", "year", "net")
        .order_by("member_id", "year")
    ):
        if net > 0 and member_id not in first:
            first[member_id] = net
    paid = dict(
        Payment.objects.filter(member_id__in=pending, purpose=Payment.Purpose.DUES)
        .values("member_id")
        .annotate(total=Sum("amount"))
        .values_list("member_id", "total")
    )
    return sorted(
        pk
        for pk, fee_class in pending.items()
        if fee_class == FeeClass.EXEMPT
        or (pk in first and (paid.get(pk) or Decimal(0)) >= first[pk])
    )


def activate_settled(member_ids: Iterable[int]) -> list[int]:
    """Pending members whose first dues are paid become active (never back to pending)."""
    ids = list(member_ids)
    settled: list[int] = []
    for start in range(0, len(ids), BATCH):
        settled += first_dues_paid(ids[start : start + BATCH])
    if not settled:
        return []
    # Active from the booking day of the last dues payment, not the day it was entered: a
    # statement imported late, or a cash payment booked afterwards, knows its own date.
    by_day: dict[date, list[int]] = defaultdict(list)
    for member_id, day in (
        Payment.objects.filter(member_id__in=settled, purpose=Payment.Purpose.DUES)
        .values("member_id")
        .annotate(last=Max("booked_on"))
        .values_list("member_id", "last")
    ):
        by_day[day].append(member_id)
    without = set(settled) - {pk for ids in by_day.values() for pk in ids}  # exempt ones
    if without:
        by_day[timezone.localdate()].extend(without)
    activated: list[int] = []
    for day, ids in sorted(by_day.items()):
        activated += members.activate_members(ids, reason=_("First dues paid in full"), on=day)
    return activated


# A night the calendar job missed (the worker was down) is caught up the nights after.
CALENDAR_DAYS = 7


def follow_calendar(on: date) -> int:
    """Nightly: what time alone changes. Payments and charges update a member's state in their
    own transaction; only a charge falling due or overdue changes it without an event. This
    recomputes the members with such a charge in the last week (idempotent: a state that is
    already right is left alone). Returns how many members changed."""
    since = on - timedelta(days=CALENDAR_DAYS)
    ids = set(
        Charge.objects.filter(
            Q(due_on__gt=since, due_on__lte=on) | Q(overdue_on__gt=since, overdue_on__lte=on)
        ).values_list("member_id", flat=True)
    )
    changed = _store_differences(payment_states(ids, on), Member.objects.filter(pk__in=ids))
    return len(changed)


def _store_differences(
    computed: dict[int, tuple[Decimal, str, date | None]], stored_in: QuerySet[Member]
) -> dict[int, tuple[Decimal, str, date | None]]:
    """Store the computed states that differ from what `stored_in` holds; returns them."""
    stored = {
        pk: (balance, status, since)
        for pk, balance, status, since in stored_in.values_list(
            "pk", "balance", "payment_status", "arrears_since"
        )
    }
    changed = {pk: state for pk, state in computed.items() if stored.get(pk) != state}
    if changed:
        members.set_payment_states(changed)
    return changed


def recompute_all() -> int:
    """The weekly safety net: recompute every member, store and report what had drifted
    (what events and the calendar job keep up to date, so any drift is a defect)."""
    drifted = _store_differences(payment_states(None, timezone.localdate()), Member.objects.all())
    if drifted:
        logger.warning("Payment states of %d members had drifted; corrected.", len(drifted))
    # The safety net for activation, too: a pending member whose first dues are paid.
    activated = activate_settled(
        Member.objects.filter(status=MemberStatus.PENDING).values_list("pk", flat=True)
    )
    if activated:
        logger.warning(
            "%d members had paid their first dues and were still pending.", len(activated)
        )
    return len(drifted) + len(activated)


@transaction.atomic
def _may_book(by: User | None, member: Member) -> None:
    """Manual bookings: the federal office, or a treasurer or board for their own area."""
    if by is not None and not access.can(by, access.Action.BOOK_PAYMENT, member.division):
        raise PermissionDenied(_("You may not book payments for this member."))


@transaction.atomic
def record_payment(
    *,
    member: Member,
    amount: Decimal,
    booked_on: date,
    method: str,
    by: User | None,
    reference: str = "",
) -> Payment:
    _may_book(by, member)
    payment = Payment.objects.create(
        member=member,
        match=Payment.Match.MANUAL,
        amount=amount,
        booked_on=booked_on,
        method=method,
        reference=reference,
        created_by=by,
    )
    refresh([member.pk])
    record_audit(
        actor=by,
        action="payment.recorded",
        obj=payment,
        division=member.division,
        summary=f"{amount} € booked by hand for {member.membership_number} ({method})",
        data={"amount": str(amount), "booked_on": booked_on.isoformat(), "method": method},
    )
    return payment


@transaction.atomic
@transaction.atomic
def assign_payment(*, payment: Payment, member: Member, by: User | None) -> Payment:
    """Give an unmatched (or merely suggested) booking its member."""
    _may_book(by, member)
    locked = Payment.objects.select_for_update().get(pk=payment.pk)
    if locked.member_id is not None or locked.match == Payment.Match.DIVIDED:
        raise StatementError(_("This payment is assigned already."))
    locked.member = member
    locked.match = Payment.Match.MANUAL
    locked.save(update_fields=["member", "match"])
    # A return of this payment booked before it was assigned follows it.
    Payment.objects.filter(reverses=locked, member__isnull=True).update(
        member=member, match=Payment.Match.MANUAL
    )
    refresh([member.pk])
    record_audit(
        actor=by,
        action="payment.assigned",
        obj=locked,
        division=member.division,
        summary=f"{locked.amount} € of {locked.booked_on.isoformat()} assigned to {member.membership_number}",
        data={"member": member.membership_number},
    )
    return locked


def queue_bank_file(*, content: bytes, filename: str, by: User) -> BankUpload:
    """Keep an uploaded bank file for the worker, which reads and books it."""
    from finance import tasks

    if not access.has_global_access(by):
        raise PermissionDenied(_("Bank files are imported by the federal office."))
    upload = BankUpload.objects.create(content=content, filename=filename[:255], uploaded_by=by)
    dispatch.enqueue(tasks.import_bank_file, upload.pk)
    return upload


def import_bank_file(*, upload_id: int, retrying: bool = False) -> BankUpload:
    """The worker's part: claim the upload (running twice books once), book it or say why not.

    A database that restarts under the import rolls the booking back and fails the task, which
    is run again (`retrying`): the upload it had claimed is then claimed again. Booking twice is
    still impossible: a statement's file is booked once (its hash is unique)."""
    claimable = [BankUpload.Status.QUEUED]
    if retrying:
        claimable.append(BankUpload.Status.IMPORTING)
    claimed = BankUpload.objects.filter(pk=upload_id, status__in=claimable).update(
        status=BankUpload.Status.IMPORTING
    )
    upload = BankUpload.objects.select_related("uploaded_by").get(pk=upload_id)
    if not claimed:
        return upload
    booked = retrying and BankStatement.objects.filter(sha256=_sha256(upload.content)).first()
    if booked:  # the first try committed and failed only afterwards
        upload.status, upload.statement, upload.content = BankUpload.Status.DONE, booked, b""
        upload.save(update_fields=["status", "statement", "content"])
        return upload
    try:
        statement = import_statement(
            content=bytes(upload.content), filename=upload.filename, by=upload.uploaded_by
        )
    except StatementError as error:
        upload.status, upload.error = BankUpload.Status.FAILED, str(error)
    except (OperationalError, InterfaceError):
        raise  # the database went away: nothing was booked, the task runs again
    except SoftTimeLimitExceeded:
        upload.status = BankUpload.Status.FAILED
        upload.error = _("Reading the file took too long; nothing was booked.")
    except Exception:  # anything else: nothing was booked (one transaction), and it is said
        logger.exception("Bank file upload %s could not be booked", upload_id)
        upload.status = BankUpload.Status.FAILED
        upload.error = _("The file could not be read; nothing was booked.")
    else:
        upload.status, upload.statement = BankUpload.Status.DONE, statement
    upload.content = b""  # the bookings keep what matters; the file goes
    upload.save(update_fields=["status", "error", "statement", "content"])
    return upload


def _sha256(content: bytes | memoryview) -> str:
    return hashlib.sha256(bytes(content)).hexdigest()


def import_statement(*, content: bytes, filename: str, by: User | None) -> BankStatement:
    """Book a CAMT.053 statement or a bank's CSV export: all of it, or, on any error, nothing."""
    from finance import bank_csv

    sha256 = _sha256(content)
    if BankStatement.objects.filter(sha256=sha256).exists():
        raise StatementError(_("This statement has been imported already."))
    is_xml = content.lstrip()[:1] == b"<"
    parsed = parse(content) if is_xml else bank_csv.parse(content, filename)
    foreign = {b.currency for b in parsed.bookings} - {"EUR"}
    if foreign:
        raise StatementError(
            _("The statement has bookings in %s; only euros are booked.")
            % ", ".join(sorted(foreign))
        )
    with transaction.atomic():
        statement = BankStatement.objects.create(
            filename=filename[:255],
            sha256=sha256,
            statement_id=parsed.statement_id[:100],
            account_iban=parsed.iban[:34],
            uploaded_by=by,
        )
        _book(statement, parsed.bookings, by)
        record_audit(
            actor=by,
            action="bank_statement.imported",
            obj=statement,
            summary=f"{filename[:100]} imported: {statement.booked} booked, {statement.matched} matched",
            data={"sha256": sha256, "booked": statement.booked, "matched": statement.matched},
        )
    return statement


class Outcome:
    """What became of a bank file's entry, for the import summary."""

    DUES = "dues"  # matched to a member as dues
    DONATION = "donation"  # a donation (matched to a person or not)
    RETURN = "return"  # money back out: a return reversing its payment
    REVIEW = "review"  # waits for a person: unknown payer, several members, unknown return
    OTHER = "other"  # money out that is no member's (bank fees, refunds, transfers)
    BOOKED_BEFORE = "booked_before"  # the same booking came in an earlier file
    ALL = (DUES, DONATION, RETURN, REVIEW, OTHER, BOOKED_BEFORE)


OUTCOME_LABELS = {
    Outcome.DUES: gettext_lazy("dues matched to members"),
    Outcome.DONATION: gettext_lazy("donations"),
    Outcome.RETURN: gettext_lazy("returns and reversals"),
    Outcome.REVIEW: gettext_lazy("waiting for a person"),
    Outcome.OTHER: gettext_lazy("other money (e.g. bank fees)"),
    Outcome.BOOKED_BEFORE: gettext_lazy("booked before (in an earlier file)"),
}


def summary_rows(statement: BankStatement) -> list[tuple[str, int, Decimal]]:
    """The import summary for people: per outcome the entries and their sum."""
    return [
        (str(OUTCOME_LABELS[key]), value["count"], Decimal(value["sum"]))
        for key, value in statement.summary.items()
        if key in OUTCOME_LABELS
    ]


def outcome_of(payment: Payment) -> str:
    if payment.match == Payment.Match.DIVIDED:  # a return taken back from each part
        return Outcome.RETURN
    if payment.purpose == Payment.Purpose.DONATION:
        return Outcome.DONATION
    if payment.purpose == Payment.Purpose.OTHER:
        return Outcome.OTHER
    if payment.member_id is None:
        return Outcome.REVIEW
    return Outcome.RETURN if payment.amount < 0 else Outcome.DUES


def _book(statement: BankStatement, bookings: list[Booking], by: User | None) -> None:
    # The same reference twice in one file (two equal payments on a day) are two bookings.
    seen: dict[str, int] = {}
    for booking in bookings:
        if booking.bank_reference:
            seen[booking.bank_reference] = seen.get(booking.bank_reference, 0) + 1
            if seen[booking.bank_reference] > 1:
                booking.bank_reference = f"{booking.bank_reference}#{seen[booking.bank_reference]}"[
                    :140
                ]
    known_refs = set(
        Payment.objects.filter(
            bank_reference__in=[b.bank_reference for b in bookings if b.bank_reference]
        ).values_list("bank_reference", flat=True)
    )
    summary = {outcome: [0, Decimal(0)] for outcome in Outcome.ALL}
    fresh = []
    for booking in bookings:
        if booking.bank_reference and booking.bank_reference in known_refs:
            summary[Outcome.BOOKED_BEFORE][0] += 1
            summary[Outcome.BOOKED_BEFORE][1] += booking.amount
        else:
            fresh.append(booking)
    statement.skipped += len(bookings) - len(fresh)
    money_in = [b for b in fresh if b.amount > 0]  # a credited reversal is money back in, too
    money_out = [b for b in fresh if b.amount <= 0]
    donations_only = statement.account_iban.replace(" ", "").upper() in set(
        settings.MUSTERROLLE_DONATION_IBANS
    )
    payments = _money_in(statement, money_in, by, donations_only=donations_only)
    Payment.objects.bulk_create(payments, batch_size=BATCH)
    returns = _money_out(statement, money_out, by)  # after: a return may name a payment above
    Payment.objects.bulk_create(returns, batch_size=BATCH)
    from finance import sepa

    sepa.on_returns(returns, on=max((p.booked_on for p in returns), default=timezone.localdate()))
    payments += returns
    _flag_duplicates(payments)
    touched_parts = _return_parts(returns)
    touched = {p.member_id for p in payments if p.member_id} | touched_parts
    for payment in payments:
        outcome = outcome_of(payment)
        summary[outcome][0] += 1
        summary[outcome][1] += payment.amount
    statement.booked += len(payments)
    statement.matched += sum(1 for p in payments if p.member_id)
    statement.summary = {
        "entries": len(bookings),
        "total": str(sum((b.amount for b in bookings), Decimal(0))),
        **{key: {"count": count, "sum": str(total)} for key, (count, total) in summary.items()},
    }
    statement.save(update_fields=["booked", "matched", "skipped", "summary"])
    refresh(touched)


def waiting_for_review(payments: QuerySet[Payment]) -> QuerySet[Payment]:
    """Bookings a person has to look at: no member's yet, not other money (bank fees,
    refunds), not divided among members already."""
    return (
        payments.filter(member__isnull=True)
        .exclude(purpose=Payment.Purpose.OTHER)
        .exclude(match=Payment.Match.DIVIDED)
    )


RETURN_FEE = "/fee"  # the bank reference of a return's charges: the return's, with this


def _common(statement: BankStatement, booking: Booking, by: User | None) -> dict[str, object]:
    return {
        "booked_on": booking.booked_on,
        "reference": booking.reference[:500],
        "counterparty_name": booking.name[:140],
        "counterparty_iban": booking.iban,
        "bank_reference": booking.bank_reference,
        "end_to_end_id": booking.end_to_end_id,
        "statement": statement,
        "created_by": by,
    }


def _money_in(
    statement: BankStatement, bookings: list[Booking], by: User | None, *, donations_only: bool
) -> list[Payment]:
    """Money in: dues or a donation, matched to a member by membership number, known IBAN,
    or (as a suggestion) by name; a reference naming several members waits with a split."""
    numbers = {n for b in bookings for n in numbers_in(b.reference)}
    by_number = dict(
        Member.objects.filter(membership_number__in=numbers).values_list("membership_number", "pk")
    )
    # An account several members paid from (a family's) names none of them.
    by_iban = {
        iban: next(iter(members))
        for iban, members in _members_by_iban({b.iban for b in bookings if b.iban}).items()
        if len(members) == 1
    }
    surnames = {_surname(b.name) for b in bookings if b.name.split()}
    people: dict[str, list[int]] = {}
    for pk, first, last in (
        Member.objects.current()
        .filter(last_name__in=surnames)
        .values_list("pk", "first_name", "last_name")
    ):
        people.setdefault(f"{first} {last}".lower(), []).append(pk)
    named = [[by_number[n] for n in numbers_in(b.reference) if n in by_number] for b in bookings]
    owed = dict(
        Member.objects.filter(pk__in={pk for ids in named for pk in ids}).values_list(
            "pk", "balance"
        )
    )
    payments = []
    for booking, members_named in zip(bookings, named, strict=True):
        donation = donations_only or bool(DONATION.search(booking.reference))
        proposal: list[dict[str, str | int]] = []
        if len(members_named) > 1:
            member_id, match, suggested = None, Payment.Match.SPLIT, None
            proposal = propose_split(booking.amount, members_named, owed)
        elif members_named:
            member_id, match, suggested = members_named[0], Payment.Match.NUMBER, None
        else:
            member_id, match, suggested = _match(booking, by_iban, people)
        method = Payment.Method.DIRECT_DEBIT if booking.direct_debit else Payment.Method.TRANSFER
        payments.append(
            Payment(
                member_id=member_id,
                match=match,
                suggested_member_id=suggested,
                amount=booking.amount,
                method=method,
                purpose=Payment.Purpose.DONATION if donation else Payment.Purpose.DUES,
                proposal=proposal,
                **_common(statement, booking, by),
            )
        )
    return payments


def propose_split(
    amount: Decimal, member_ids: list[int], balances: dict[int, Decimal]
) -> list[dict[str, str | int]]:
    """Parts for each member named: what each owes, when that is exactly the amount;
    otherwise equal parts, the first taking the odd cents."""
    owed = [max(-(balances.get(pk) or Decimal(0)), Decimal(0)) for pk in member_ids]
    if sum(owed) == amount and all(owed):
        parts = owed
    else:
        share = (amount / len(member_ids)).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
        parts = [share] * len(member_ids)
        parts[0] += amount - share * len(member_ids)
    return [{"member": pk, "amount": str(part)} for pk, part in zip(member_ids, parts, strict=True)]


def _money_out(statement: BankStatement, bookings: list[Booking], by: User | None) -> list[Payment]:
    """Money out. A return (flagged as reversal, with return information or a return's
    transaction code, or naming a payment we booked by its end-to-end id) reverses its
    payment, from this file or an earlier one; a return whose payment is unknown waits for a
    person. A refund naming a member (number or known IBAN) waits for a person too; anything
    else (bank fees, suppliers' debits) is booked as other money, no member's."""
    originals = {
        p.end_to_end_id: p
        for p in Payment.objects.filter(
            end_to_end_id__in={b.end_to_end_id for b in bookings if b.end_to_end_id}, amount__gt=0
        ).filter(reversed_by__isnull=True, split_from__isnull=True)
    }
    numbers = {n for b in bookings for n in numbers_in(b.reference)}
    by_number = dict(
        Member.objects.filter(membership_number__in=numbers).values_list("membership_number", "pk")
    )
    by_iban = _members_by_iban({b.iban for b in bookings if b.iban})
    payments = []
    for booking in bookings:
        original = originals.pop(booking.end_to_end_id, None) if booking.end_to_end_id else None
        if not (booking.is_return or original is not None):
            named = [by_number[n] for n in numbers_in(booking.reference) if n in by_number]
            named = named or sorted(by_iban.get(booking.iban, ()))
            payments.append(
                Payment(
                    amount=booking.amount,
                    method=Payment.Method.TRANSFER,
                    # A refund to a member changes their account: a person assigns it.
                    purpose=Payment.Purpose.DUES if named else Payment.Purpose.OTHER,
                    suggested_member_id=named[0] if len(named) == 1 else None,
                    **_common(statement, booking, by),
                )
            )
            continue
        divided = (
            original is not None
            and original.match == Payment.Match.DIVIDED
            and original.amount == abs(booking.amount) - booking.fees
        )
        if original is not None and original.match == Payment.Match.DIVIDED and not divided:
            original = None  # a partial return of a divided booking: a person decides
        payments.append(
            Payment(
                member_id=original.member_id if original else None,
                match=original.match if original else Payment.Match.NONE,
                amount=-(abs(booking.amount) - booking.fees),
                method=Payment.Method.RETURN,
                purpose=original.purpose if original else Payment.Purpose.DUES,
                return_reason=booking.return_reason,
                reverses=original,
                **_common(statement, booking, by),
            )
        )
        if booking.fees:
            # The banks' charges for the return: the party's cost (a line of its own, so
            # that the statement's every cent is accounted for); sepa.on_returns passes
            # them on to the member where the finance order says so.
            payments.append(
                Payment(
                    amount=-booking.fees,
                    method=Payment.Method.TRANSFER,
                    purpose=Payment.Purpose.OTHER,
                    **{
                        **_common(statement, booking, by),
                        "bank_reference": booking.bank_reference + RETURN_FEE,
                        "end_to_end_id": "",
                    },
                )
            )
    return payments


def _return_parts(returns: list[Payment]) -> set[int]:
    """A return of a booking that was divided among members takes back each part."""
    touched: set[int] = set()
    parts = []
    for returned in returns:
        if returned.match != Payment.Match.DIVIDED or returned.reverses is None:
            continue
        for part in returned.reverses.parts.filter(reversed_by__isnull=True):
            parts.append(
                Payment(
                    member_id=part.member_id,
                    match=Payment.Match.MANUAL,
                    amount=-part.amount,
                    booked_on=returned.booked_on,
                    method=Payment.Method.RETURN,
                    purpose=part.purpose,
                    return_reason=returned.return_reason,
                    reference=returned.reference,
                    statement=returned.statement,
                    reverses=part,
                    split_from=returned,
                    created_by=returned.created_by,
                )
            )
            touched.add(part.member_id)
    Payment.objects.bulk_create(parts, batch_size=BATCH)
    return touched


def _members_by_iban(ibans: set[str]) -> dict[str, set[int]]:
    """The members who paid from each account before (their own money, not split parts),
    here or, as the switch-over brought in, in the previous system."""
    found: dict[str, set[int]] = {}
    for iban, member_id in Payment.objects.filter(
        counterparty_iban__in=ibans, member__isnull=False, amount__gt=0, split_from__isnull=True
    ).values_list("counterparty_iban", "member_id"):
        found.setdefault(iban, set()).add(member_id)
    for iban, member_id in OpeningBalance.objects.filter(iban__in=ibans).values_list(
        "iban", "member_id"
    ):
        found.setdefault(iban, set()).add(member_id)
    return found


def _flag_duplicates(payments: list[Payment]) -> None:
    """A booking that came in before in a file of another format (the CAMT statement and the
    CSV download of the same account have different references) is not booked twice: it
    waits for a person, who sees which payment it seems to repeat."""
    if not payments:
        return
    earlier: dict[tuple[object, ...], int | None] = {}
    for booked_on, amount, iban, reference, member_id in (
        Payment.objects.filter(
            booked_on__in={p.booked_on for p in payments},
            amount__in={p.amount for p in payments},
            statement__isnull=False,
            split_from__isnull=True,
        )
        .exclude(statement=payments[0].statement)
        .values_list("booked_on", "amount", "counterparty_iban", "reference", "member_id")
    ):
        earlier[booked_on, amount, iban, " ".join(reference.split())] = member_id
    flagged = []
    for payment in payments:
        key = (
            payment.booked_on,
            payment.amount,
            payment.counterparty_iban,
            " ".join(payment.reference.split()),
        )
        if key in earlier:
            payment.suggested_member_id = earlier[key] or payment.member_id
            payment.member_id, payment.match, payment.reverses_id = (
                None,
                Payment.Match.DUPLICATE,
                None,
            )
            flagged.append(payment)
    Payment.objects.bulk_update(flagged, ["member", "match", "suggested_member", "reverses"])


def _surname(name: str) -> str:
    """'Müller, Jörg' and 'Jörg Müller' both give 'Müller'."""
    return name.split(",", 1)[0].strip() if "," in name else name.split()[-1]


def _match(
    booking: Booking, by_iban: dict[str, int], people: dict[str, list[int]]
) -> tuple[int | None, str, int | None]:
    if booking.iban in by_iban:
        return by_iban[booking.iban], Payment.Match.IBAN, None
    name = booking.name.lower()
    if "," in name:  # "Müller, Jörg"
        last, first = (part.strip() for part in name.split(",", 1))
        name = f"{first} {last}"
    candidates = people.get(" ".join(name.split()), [])
    if len(candidates) == 1:
        return None, Payment.Match.SUGGESTED, candidates[0]
    return None, Payment.Match.NONE, None


@transaction.atomic
def split_payment(
    *, payment: Payment, parts: list[tuple[Member, Decimal]], by: User | None
) -> list[Payment]:
    """Divide a booking naming several members into parts of their own; the parts add up to
    the booking, which stays as it came from the bank (no member's, marked divided)."""
    locked = Payment.objects.select_for_update().get(pk=payment.pk)
    if locked.member_id is not None or locked.match == Payment.Match.DIVIDED:
        raise StatementError(_("This payment is assigned already."))
    if locked.amount <= 0:
        raise StatementError(_("Only money received can be split."))
    if Payment.objects.filter(reverses=locked).exists():
        raise StatementError(_("This payment has been returned; it cannot be split."))
    if len(parts) < 2 or any(amount <= 0 for _member, amount in parts):
        raise StatementError(_("A split needs at least two parts, each more than nothing."))
    if sum(amount for _member, amount in parts) != locked.amount:
        raise StatementError(
            _("The parts add up to %(parts)s €, the payment is %(amount)s €.")
            % {
                "parts": number_format(sum(a for _m, a in parts), 2),
                "amount": number_format(locked.amount, 2),
            }
        )
    for member, _amount in parts:
        _may_book(by, member)
    created = Payment.objects.bulk_create(
        Payment(
            member=member,
            match=Payment.Match.MANUAL,
            amount=amount,
            booked_on=locked.booked_on,
            method=locked.method,
            purpose=locked.purpose,
            reference=locked.reference,
            counterparty_name=locked.counterparty_name,
            counterparty_iban=locked.counterparty_iban,
            statement=locked.statement,
            split_from=locked,
            created_by=by,
        )
        for member, amount in parts
    )
    locked.match = Payment.Match.DIVIDED
    locked.save(update_fields=["match"])
    refresh([member.pk for member, _amount in parts])
    record_audit(
        actor=by,
        action="payment.split",
        obj=locked,
        summary=f"{locked.amount} € of {locked.booked_on.isoformat()} split among "
        + ", ".join(str(m.membership_number) for m, _a in parts),
        data={"parts": [[m.membership_number, str(a)] for m, a in parts]},
    )
    return created


class Ledger:
    """The ledger as the register's other apps may ask it (members.policy.DuesLedger)."""

    CHUNK = 10_000

    def owed_on(self, member_ids: Sequence[int] | None, on: date) -> dict[int, Owed]:
        if connection.vendor != "postgresql":
            states = payment_states(member_ids, on)
            return {
                pk: Owed(-balance, since)
                for pk, (balance, _status, since) in states.items()
                if balance < 0
            }
        # On PostgreSQL only the owing rows come back: for everyone (a federal convention)
        # the whole ledger in one pass, else the members as one array per 10,000 (one
        # parameter, not one per member).
        owing = "SELECT id, balance, since FROM ({states}) s WHERE balance < 0"
        if member_ids is None:
            queries = [
                (owing.format(states=STATES_SQL.format(chosen=ALL_MEMBERS, **WHOLE_LEDGER)), {})
            ]
        else:
            chosen = "SELECT id, fee_class FROM members_member WHERE id = ANY(%(ids)s)"
            sql = owing.format(states=STATES_SQL.format(chosen=chosen, **IN_CHOSEN))
            ids = list(member_ids)
            queries = [
                (sql, {"ids": ids[start : start + self.CHUNK]})
                for start in range(0, len(ids), self.CHUNK)
            ]
        result: dict[int, Owed] = {}
        with connection.cursor() as cursor:
            for sql, params in queries:
                cursor.execute(sql, {"on": on, **params})
                for pk, balance, since in cursor.fetchall():
                    result[pk] = Owed(-Decimal(balance).quantize(Decimal("0.01")), since)
        return result
