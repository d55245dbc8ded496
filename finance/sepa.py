"""SEPA direct debit (CORE): members' mandates, collection runs that write a pain.008.001.08
file for the bank, the pre-notification each member gets before the money is taken, and what
a returned debit does to the mandate.

A collection with due date D collects, from every member with a usable mandate, the dues of
D's year that fell due on or before D and are still open (less money already on its way).
A year's dues are collected once per member (the `finance_debit_once` constraint); with a
monthly mandate, whose dues the dues run charged in monthly instalments, once per month. Only
a returned debit lets another be made, and only after a return that allows a retry (AM04, MS03:
no funds, once); MD01, AC04, AC06 and MD07 make the mandate unusable and tell the board.

The file is built with sepaxml and checked against the pain.008.001.08 schema that ships
with it, by libxml2 (lxml): sepaxml's own check (xmlschema) refuses files of over a million
elements and takes minutes for 200,000 debits.
"""

from __future__ import annotations

import datetime as dt
import gzip
import os
import re
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Sum
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from finance.arrears import months_before
from finance.models import Charge, Collection, Debit, Mandate, Payment
from finance.references import reference_for
from members import access
from members.bulk import insert_values
from members.models import Division, Member, MemberStatus
from ops import dispatch

if TYPE_CHECKING:
    from django.contrib.auth.models import User

SCHEMA = "pain.008.001.08"
LAPSE_MONTHS = 36
RETRYABLE = frozenset({"AM04", "MS03"})  # insufficient funds, reason not given: one retry
UNUSABLE = frozenset({"MD01", "AC04", "AC06", "MD07"})  # no mandate, account closed/blocked, dead
BATCH = 5000
CENT = Decimal("0.01")
NO_MANDATE = gettext_lazy("no mandate")
# What SEPA allows in a mandate reference (Max35Text in the restricted character set).
MANDATE_REFERENCE = re.compile(r"[A-Za-z0-9+?/\-:().,' ]{1,35}")


# --- Mandates ----------------------------------------------------------------------------


def check_iban(value: str) -> tuple[str, str]:
    """The IBAN in its compact form and the BIC of its bank (empty when the registry does not
    know the bank), or a ValidationError saying what is wrong."""
    from schwifty import IBAN
    from schwifty import exceptions as problems

    # schwifty says what is wrong in English; the user reads it in the site's language.
    reasons = [
        (problems.InvalidChecksumDigits, _("the check digits do not match (a typing error?)")),
        (problems.InvalidLength, _("it has the wrong number of characters for its country")),
        (problems.InvalidCountryCode, _("it does not begin with a known country code")),
        (problems.InvalidBBANChecksum, _("the account number's check digit does not match")),
        (problems.InvalidBankCode, _("the bank code is not known")),
    ]
    try:
        iban = IBAN(value)
    except problems.SchwiftyException as error:
        reason = next(
            (text for kind, text in reasons if isinstance(error, kind)),
            _("its structure is not that of its country"),
        )
        raise ValidationError(
            _("This is not a valid IBAN: %(error)s.") % {"error": reason}
        ) from error
    try:
        bic = iban.bic
    except problems.SchwiftyException:
        bic = None
    return iban.compact, str(bic) if bic else ""


def mandate_state(mandate: Mandate | MandateRow, on: date) -> str:
    """usable, revoked, unusable or lapsed (unused for 36 months) on `on`."""
    if mandate.revoked_on is not None and mandate.revoked_on <= on:
        return "revoked"
    if mandate.unusable_since is not None:
        return "unusable"
    if _lapse_boundary(on) > (mandate.last_collected_on or mandate.signed_on):
        return "lapsed"
    return "usable"


@lru_cache(maxsize=64)
def _lapse_boundary(on: date) -> date:
    """Mandates last used before this day have lapsed on `on`."""
    return months_before(on, LAPSE_MONTHS)


def state_label(mandate: Mandate, on: date) -> str:
    state = mandate_state(mandate, on)
    if state == "unusable":
        return _("unusable after a return (%(code)s)") % {"code": mandate.unusable_reason or "?"}
    return {"usable": _("usable"), "revoked": _("revoked"), "lapsed": _("lapsed")}[state]


def check_mandate(*, member: Member, holder: str, signed_on: date, monthly: bool = False) -> str:
    """What a mandate must be to be recorded; returns the holder's name, tidied."""
    from finance import services

    if monthly:
        yearly = services.yearly_rate(member, timezone.localdate())
        if yearly is None or yearly < services.MONTHLY_MINIMUM:
            raise ValidationError(
                _(
                    "Monthly payment needs dues of at least %(minimum)s € a year; this "
                    "member pays %(amount)s €."
                )
                % {
                    "minimum": formats.number_format(services.MONTHLY_MINIMUM, 2),
                    "amount": formats.number_format(yearly or 0, 2),
                }
            )
    if member.status == MemberStatus.ENDED:
        raise ValidationError(_("The membership has ended: no mandate can be recorded."))
    if signed_on > timezone.localdate():
        raise ValidationError(_("A mandate cannot be signed in the future."))
    holder = " ".join(holder.split())
    if not holder:
        raise ValidationError(_("Name the account holder."))
    return holder


@transaction.atomic
def record_mandate(
    *,
    member: Member,
    iban: str,
    holder: str,
    signed_on: date,
    by: User | None,
    monthly: bool = False,
) -> Mandate:
    """Record a signed mandate (the federal office, in the admin or approving a board's
    change request); it replaces the member's usable one. Monthly instalments begin with
    the next dues the dues run charges (the next year; charged dues keep their dates)."""
    from members.services import record_audit

    if by is not None and not access.has_global_access(by):
        raise PermissionDenied(_("Only the federal office records mandates."))
    member = Member.objects.select_for_update().get(pk=member.pk)
    holder = check_mandate(member=member, holder=holder, signed_on=signed_on, monthly=monthly)
    compact, bic = check_iban(iban)
    today = timezone.localdate()
    Mandate.objects.filter(
        member=member, revoked_on__isnull=True, unusable_since__isnull=True
    ).update(revoked_on=today)
    count = Mandate.objects.filter(member=member).count()
    mandate = Mandate.objects.create(
        member=member,
        reference=f"MR-{member.membership_number}-{count + 1}",
        signed_on=signed_on,
        holder=holder[:70],
        iban=compact,
        bic=bic,
        monthly=monthly,
        created_by=by,
    )
    record_audit(
        actor=by,
        action="mandate.record",
        obj=mandate,
        division=member.division,
        summary=f"Mandate {mandate.reference} recorded for member {member.membership_number}",
        data={
            "iban_end": compact[-4:],
            "signed_on": signed_on.isoformat(),
            "monthly": monthly,
        },
    )
    return mandate


@transaction.atomic
def revoke_mandate(*, mandate: Mandate, on: date, by: User | None) -> None:
    from members.services import record_audit

    if by is not None and not access.has_global_access(by):
        raise PermissionDenied(_("Only the federal office revokes mandates."))
    if Mandate.objects.filter(pk=mandate.pk, revoked_on__isnull=True).update(revoked_on=on):
        record_audit(
            actor=by,
            action="mandate.revoke",
            obj=mandate,
            division=mandate.member.division,
            summary=f"Mandate {mandate.reference} revoked as of {on}",
        )


class MandateRequests:
    """Boards ask for a mandate through a change request (members.policy.MandatePolicy):
    checked when asked, recorded when the federal office approves."""

    @property
    def labels(self) -> dict[str, str]:
        return {
            "mandate_holder": _("account holder"),
            "mandate_iban": _("IBAN"),
            "mandate_signed_on": _("mandate signed on"),
            "mandate_monthly": _("collected monthly"),
        }

    def check(self, member: Member, values: Mapping[str, Any]) -> dict[str, Any]:
        errors: dict[str, Any] = {}
        try:
            iban, _bic = check_iban(str(values.get("mandate_iban") or ""))
        except ValidationError as error:
            errors["mandate_iban"] = error.messages
        signed_on = values.get("mandate_signed_on")
        if isinstance(signed_on, str):
            signed_on = date.fromisoformat(signed_on)
        if not isinstance(signed_on, date):
            errors["mandate_signed_on"] = [_("Enter the day the mandate was signed.")]
        if errors:
            raise ValidationError(errors)
        monthly = bool(values.get("mandate_monthly"))
        holder = check_mandate(
            member=member,
            holder=str(values.get("mandate_holder") or ""),
            signed_on=signed_on,
            monthly=monthly,
        )
        return {
            "mandate_holder": holder[:70],
            "mandate_iban": iban,
            "mandate_signed_on": signed_on.isoformat(),
            "mandate_monthly": monthly,
        }

    def record(self, member: Member, values: Mapping[str, Any], by: User | None) -> None:
        record_mandate(
            member=member,
            iban=values["mandate_iban"],
            holder=values["mandate_holder"],
            signed_on=date.fromisoformat(values["mandate_signed_on"]),
            monthly=bool(values.get("mandate_monthly")),
            by=by,
        )


# --- Planning a collection -------------------------------------------------------------


class MandateRow(NamedTuple):
    """A mandate as a collection reads it (200,000 of them: no model instances, and tuples
    are made faster than frozen dataclasses)."""

    pk: int
    member_id: int
    reference: str
    signed_on: date
    holder: str
    iban: str
    bic: str
    last_collected_on: date | None
    revoked_on: date | None
    unusable_since: date | None
    unusable_reason: str
    monthly: bool


class Planned(NamedTuple):
    member_id: int
    number: int
    name: str
    state: str
    mandate: MandateRow
    amount: Decimal
    sequence: str
    month: int = 0  # paid monthly: the month's instalment (Debit.month)


class Skipped(NamedTuple):
    member_id: int
    number: int
    name: str
    state: str
    reason: str


@dataclass
class Plan:
    due_on: date
    year: int
    debits: list[Planned] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    @property
    def total(self) -> Decimal:
        return sum((d.amount for d in self.debits), Decimal(0))

    def per_state(self) -> dict[str, tuple[int, Decimal]]:
        sums: dict[str, list[Any]] = defaultdict(lambda: [0, Decimal(0)])
        for debit in self.debits:
            sums[debit.state][0] += 1
            sums[debit.state][1] += debit.amount
        return {state: (n, total) for state, (n, total) in sorted(sums.items())}

    def reasons(self) -> list[tuple[str, int]]:
        """Why members were skipped, the most frequent reason first (a list: a template
        reading `most_common` off a Counter would get the count of a reason of that name)."""
        return Counter(s.reason for s in self.skipped).most_common()

    def without_mandate(self) -> int:
        """Members who owe dues and pay by transfer: counted, not listed one by one."""
        return sum(1 for s in self.skipped if s.reason == str(NO_MANDATE))

    def listed(self) -> list[Skipped]:
        """The skipped members someone should look at: everyone but those without mandate."""
        return [s for s in self.skipped if s.reason != str(NO_MANDATE)]


Progress = Callable[[str, int], None]  # what is being done, and how far (per cent)


def plan(
    *, due_on: date, division: Division | None = None, progress: Progress | None = None
) -> Plan:
    """What a collection due on `due_on` would collect, and whom it skips and why: members
    with dues of the year open on that day, in batches (one set of queries per batch)."""
    year = due_on.year
    result = Plan(due_on=due_on, year=year)
    owing = (
        Charge.objects.filter(year=year, due_on__lte=due_on)
        .exclude(kind=Charge.Kind.OPENING)
        .values("member_id")
        .annotate(net=Sum("amount"))
        .filter(net__gt=0)
        .order_by("member_id")
        .values_list("member_id", "net")
    )
    members = Member.objects.exclude(status=MemberStatus.ENDED)
    if division is not None:
        members = members.in_subtree(division)
    net_by_member = dict(owing)
    ids = sorted(net_by_member)
    states = _state_codes()
    # Batches by ranges of ids (a range is cheap to send and to plan; a list of thousands of
    # ids is not); members in a range who owe nothing this year are left out here.
    for start in range(0, len(ids), BATCH):
        if progress is not None:
            progress(str(_("Planning")), 60 * start // len(ids))
        low, high = ids[start], ids[min(start + BATCH, len(ids)) - 1]
        rows = [
            row
            for row in members.filter(pk__gte=low, pk__lte=high)
            .order_by("pk")
            .values_list(
                "pk", "membership_number", "first_name", "last_name", "state_id", "balance"
            )
            if row[0] in net_by_member
        ]
        if rows:
            _plan_batch(result, rows, net_by_member, states, (low, high))
    return result


def _plan_batch(
    result: Plan,
    rows: list[tuple[int, int, str, str, int | None, Decimal]],
    net_by_member: dict[int, Decimal],
    states: dict[int, str],
    id_range: tuple[int, int],
) -> None:
    due_on, year = result.due_on, result.year
    within = {"member_id__gte": id_range[0], "member_id__lte": id_range[1]}
    # What a member owes on the due date: the balance stored today (kept by every booking,
    # checked by the nightly and weekly jobs) and the charges falling due until then.
    today = timezone.localdate()
    falling_due = dict(
        Charge.objects.filter(**within, due_on__gt=today, due_on__lte=due_on)
        .order_by()
        .values("member_id")
        .annotate(total=Sum("amount"))
        .values_list("member_id", "total")
    )
    debits: dict[int, list[Debit]] = defaultdict(list)
    for debit in Debit.objects.filter(**within).order_by("pk"):
        debits[debit.member_id].append(debit)
    booked = set(
        Payment.objects.filter(
            end_to_end_id__in=[d.end_to_end_id for ds in debits.values() for d in ds]
        ).values_list("end_to_end_id", flat=True)
    )
    mandates: dict[int, list[MandateRow]] = defaultdict(list)
    for values in Mandate.objects.filter(**within).order_by("-pk").values_list(*MandateRow._fields):
        mandates[values[1]].append(MandateRow(*values))
    for pk, number, first, last, state_id, balance in rows:
        name = f"{first} {last}".strip()
        state = states.get(state_id or 0, "")

        def skip(reason: str, who: tuple[int, int, str, str] = (pk, number, name, state)) -> None:
            result.skipped.append(Skipped(*who, reason))

        usable, reason = _usable_mandate(mandates.get(pk, ()), due_on)
        earlier = debits.get(pk, ())
        # Paid monthly: one debit per month (that month's instalment and anything still
        # open); otherwise one per year.
        month = due_on.month if usable is not None and usable.monthly else 0
        this_year = [d for d in earlier if d.year == year]
        # A year's debit covers the year; a month's only its month (a member who went from
        # monthly to yearly mid-year still owes the months not collected: the money on its
        # way is counted below).
        live = [d for d in this_year if d.returned_on is None and d.month in (0, month)]
        if live:
            skip(_("already collected (%(id)s)") % {"id": live[0].end_to_end_id})
            continue
        if usable is None:
            skip(reason)
            continue
        # Returns count over the year, also for monthly payers: a refund the member asked for
        # (MD06 and the like) means the dues are in dispute, and after two returns for lack of
        # funds the reminders take over.
        returned = [d for d in this_year if d.returned_on is not None]
        if returned and returned[-1].return_reason not in RETRYABLE:
            skip(
                _("returned (%(code)s): not collected again")
                % {"code": returned[-1].return_reason or "?"}
            )
            continue
        if len(returned) >= 2:
            skip(_("returned twice: no further retry"))
            continue
        in_flight = sum(
            (d.amount for d in earlier if d.returned_on is None and d.end_to_end_id not in booked),
            Decimal(0),
        )
        owed = (falling_due.get(pk) or Decimal(0)) - balance - in_flight
        amount = min(net_by_member[pk], owed).quantize(CENT)
        if amount <= 0:
            continue  # paid already: nothing to collect, nothing to report
        # First use of the mandate: FRST; every later one RCUR.
        sequence = "RCUR" if usable.last_collected_on else "FRST"
        result.debits.append(Planned(pk, number, name, state, usable, amount, sequence, month))


def _usable_mandate(mandates: Sequence[MandateRow], on: date) -> tuple[MandateRow | None, str]:
    if not mandates:
        return None, str(NO_MANDATE)
    newest = mandates[0]
    state = mandate_state(newest, on)
    if state == "usable":
        return newest, ""
    if state == "revoked":
        return None, _("mandate revoked")
    if state == "unusable":
        return None, _("mandate unusable after a return (%(code)s)") % {
            "code": newest.unusable_reason or "?"
        }
    return None, _("mandate lapsed (unused for 36 months)")


def _creditor() -> dict[str, str]:
    return {
        "name": settings.MUSTERROLLE_SEPA_CREDITOR_NAME,
        "IBAN": settings.MUSTERROLLE_SEPA_CREDITOR_IBAN.replace(" ", "").upper(),
        "BIC": settings.MUSTERROLLE_SEPA_CREDITOR_BIC,
        "creditor_id": settings.MUSTERROLLE_SEPA_CREDITOR_ID,
    }


def _state_codes() -> dict[int, str]:
    return dict(Division.objects.filter(depth__lte=2).values_list("pk", "code"))


# --- Making it ---------------------------------------------------------------------------


def earliest_due_on(today: date | None = None) -> date:
    """The first due date a collection made today may have: the members are told (pre-
    notification) this many days before, and the bank needs the file a business day ahead."""
    today = today or timezone.localdate()
    return today + timedelta(days=max(settings.MUSTERROLLE_SEPA_PRENOTIFICATION_DAYS, 2))


def check_creditor() -> None:
    """The party's creditor data must be complete and valid before any file is made."""
    creditor = _creditor()
    if not creditor["creditor_id"] or not creditor["name"]:
        raise ValidationError(
            _(
                "Set MUSTERROLLE_SEPA_CREDITOR_ID and MUSTERROLLE_SEPA_CREDITOR_NAME before "
                "collecting dues."
            )
        )
    check_iban(creditor["IBAN"])


def create(
    *,
    due_on: date,
    division: Division | None = None,
    by: User | None = None,
    notify: bool = True,
    progress: Progress | None = None,
) -> tuple[Collection, Plan]:
    """Make the collection: its debits (each year's dues of a member once: a second run, or
    one started at the same time, finds them collected), the pain.008 file, checked against
    the schema; then the pre-notifications go out (a task)."""
    from members.services import record_audit

    if by is not None and not access.has_global_access(by):
        raise PermissionDenied(_("Only the federal office collects dues."))
    check_creditor()
    if due_on < earliest_due_on():
        raise ValidationError(
            _(
                "The due date must be on or after %(day)s: members are told %(days)s days "
                "before their dues are collected."
            )
            % {
                "day": earliest_due_on().isoformat(),
                "days": settings.MUSTERROLLE_SEPA_PRENOTIFICATION_DAYS,
            }
        )
    result = plan(due_on=due_on, division=division, progress=progress)
    if not result.debits:
        raise ValidationError(_("Nothing to collect on this due date."))
    if progress is not None:
        progress(str(_("Writing the debits")), 60)
    try:
        with transaction.atomic():
            collection = Collection.objects.create(
                due_on=due_on,
                division=division,
                message_id=f"MR{uuid.uuid4().hex[:30]}",
                count=len(result.debits),
                total=result.total,
                created_by=by,
            )
            ids = [
                end_to_end_id(collection.pk, d.member_id, result.year, d.month)
                for d in result.debits
            ]
            # The file is made (Python, the interpreter's lock held) while the database
            # writes the debits and marks the mandates (waiting on the server, the lock
            # released): a 200,000 debit collection takes a third less time.
            with ThreadPoolExecutor(max_workers=1) as pool:
                made = pool.submit(_file, collection.message_id, result, ids)
                insert_values(
                    Debit,
                    [
                        "collection_id",
                        "member_id",
                        "mandate_id",
                        "year",
                        "month",
                        "amount",
                        "sequence",
                        "end_to_end_id",
                    ],
                    (
                        (
                            collection.pk,
                            d.member_id,
                            d.mandate.pk,
                            result.year,
                            d.month,
                            d.amount,
                            d.sequence,
                            e2e,
                        )
                        for d, e2e in zip(result.debits, ids, strict=True)
                    ),
                )
                _mark_collected([d.mandate.pk for d in result.debits], due_on)
                if progress is not None:
                    progress(str(_("Making the file and checking it against the schema")), 75)
                collection.file_gz = made.result()
            collection.save(update_fields=["file_gz"])
            record_audit(
                actor=by,
                action="collection.create",
                obj=collection,
                division=division,
                summary=f"Direct debit due {due_on}: {len(ids)} debits, {result.total} €",
                data={"count": len(ids), "total": str(result.total)},
            )
    except IntegrityError as error:
        raise ValidationError(
            _("Another collection took some of these dues at the same time; start again.")
        ) from error
    if notify:
        from finance import tasks

        dispatch.enqueue(tasks.send_prenotifications, collection.pk)
    return collection, result


def end_to_end_id(collection_id: int, member_id: int, year: int, month: int) -> str:
    """Unique per debit; the bank returns it with the booking and with a return."""
    suffix = f"-{month:02}" if month else ""
    return f"MR{collection_id}-{member_id}-{year}{suffix}"


# --- Made by a worker, watched in the admin --------------------------------------------

RUN_KEY = "finance:collection-run:{}"
RUN_TTL = 24 * 3600


def run_state(token: str) -> dict[str, Any] | None:
    """How far a collection started in the admin has come: stage and per cent, then the
    collection made or the error that stopped it (in the cache: every process sees it)."""
    from django.core.cache import cache

    return cache.get(RUN_KEY.format(token))


def _set_run_state(token: str, **state: Any) -> None:
    from django.core.cache import cache

    cache.set(RUN_KEY.format(token), state, RUN_TTL)


def start_run(*, due_on: date, division: Division | None, by: User) -> str:
    """Queue the collection (a worker makes it; 200,000 debits take half a minute) and
    return the token its progress is found under."""
    from finance import tasks

    if not access.has_global_access(by):
        raise PermissionDenied(_("Only the federal office collects dues."))
    token = uuid.uuid4().hex
    _set_run_state(token, stage=str(_("Waiting for a worker")), percent=0, user=by.pk)
    division_id = division.pk if division is not None else None
    dispatch.enqueue(tasks.make_collection, token, due_on.isoformat(), division_id, by.pk)
    return token


def make_run(token: str, due_on: date, division_id: int | None, user_id: int) -> None:
    """The worker's part of start_run: the collection made, its progress reported."""
    from members.models import User as UserModel

    by = UserModel.objects.get(pk=user_id)
    division = Division.objects.get(pk=division_id) if division_id else None

    def progress(stage: str, percent: int) -> None:
        _set_run_state(token, stage=stage, percent=percent, user=user_id)

    try:
        collection, _result = create(due_on=due_on, division=division, by=by, progress=progress)
    except (ValidationError, PermissionDenied) as error:
        message = " ".join(getattr(error, "messages", [str(error)]))
        _set_run_state(token, error=message, percent=100, user=user_id)
        return
    except BaseException:  # a time limit, a lost database: the page stops waiting, says so
        _set_run_state(
            token,
            error=str(
                _(
                    "The collection stopped with an error. Look at the list of collections "
                    "before you start it again."
                )
            ),
            percent=100,
            user=user_id,
        )
        raise
    _set_run_state(
        token,
        collection=collection.pk,
        count=collection.count,
        total=str(collection.total),
        percent=100,
        user=user_id,
    )


def _mark_collected(mandate_ids: list[int], on: date) -> None:
    """The mandates' last use: on PostgreSQL one statement joining the ids as a table (a
    join with the debits just written would be planned on empty statistics, and `id =
    ANY(array)` searches the array for every row), in batches elsewhere."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {Mandate._meta.db_table} AS m SET last_collected_on = %s "  # noqa: S608
                "FROM unnest(%s::bigint[]) AS used(id) WHERE m.id = used.id",
                [on, mandate_ids],
            )
        return
    for start in range(0, len(mandate_ids), 500):
        Mandate.objects.filter(pk__in=mandate_ids[start : start + 500]).update(last_collected_on=on)


def _file(message_id: str, result: Plan, end_to_end_ids: Sequence[str]) -> bytes:
    """The file as kept: checked against the schema, gzip-compressed."""
    return gzip.compress(build_xml(message_id, result, end_to_end_ids), 1)


def build_xml(message_id: str, result: Plan, end_to_end_ids: Sequence[str]) -> bytes:
    """The pain.008.001.08 file, refused unless it is valid against the schema."""
    from sepaxml import SepaDD

    config = {**_creditor(), "batch": True, "currency": "EUR"}
    if not config["BIC"]:
        del config["BIC"]
    # sepaxml's own cleaning transliterates every name and text anew; ours only where needed.
    config["name"] = _sepa_text(config["name"], 70)
    document = SepaDD(config, schema=SCHEMA, clean=False)
    document.msg_id = message_id
    with translation.override(settings.LANGUAGE_CODE):  # the bank's file: the site's language
        dues = _("Membership dues")
    purpose = f"{dues} {result.year}"
    monthly = f"{dues} {result.due_on:%m/%Y}"
    for planned, e2e in zip(result.debits, end_to_end_ids, strict=True):
        mandate = planned.mandate
        payment = {
            "name": _sepa_text(mandate.holder, 70),
            "IBAN": mandate.iban,
            "amount": int(planned.amount * 100),
            "type": planned.sequence,
            "collection_date": dt.date.fromordinal(result.due_on.toordinal()),
            "mandate_id": mandate.reference,
            "mandate_date": dt.date.fromordinal(mandate.signed_on.toordinal()),
            "description": _sepa_text(
                f"{reference_for(planned.number, result.year)} "
                f"{monthly if planned.month else purpose}",
                140,
            ),
            "endtoend_id": e2e,
        }
        if mandate.bic:
            payment["BIC"] = mandate.bic
        document.add_payment(payment)
    xml = document.export(validate=False)
    validate_xml(xml)
    return xml


def _sepa_text(text: str, length: int) -> str:
    """Text in the letters every SEPA bank takes (umlauts and accents transliterated)."""
    if not text.isascii():
        from text_unidecode import unidecode

        text = unidecode(text)
    return text[:length]


@cache
def _schema() -> Any:
    import sepaxml
    from lxml import etree

    path = os.path.join(os.path.dirname(sepaxml.__file__), "schemas", f"{SCHEMA}.xsd")
    return etree.XMLSchema(etree.parse(path))


def validate_xml(xml: bytes) -> None:
    """Raise ValidationError unless `xml` is a valid pain.008.001.08 document."""
    from lxml import etree

    try:
        document = etree.fromstring(
            xml, etree.XMLParser(huge_tree=True, resolve_entities=False, no_network=True)
        )
    except etree.XMLSyntaxError as error:
        raise ValidationError(_("The file is not XML: %(error)s") % {"error": error}) from error
    try:
        # The error travels with the exception: the cached schema's own error log is shared
        # by every thread that validates with it.
        _schema().assertValid(document)
    except etree.DocumentInvalid as error:
        first = error.error_log[0] if error.error_log else None
        raise ValidationError(
            _("The file does not match the pain.008 schema: %(error)s")
            % {"error": f"line {first.line}: {first.message}" if first else "?"}
        ) from error


# --- Pre-notification --------------------------------------------------------------------


def send_prenotifications(collection: Collection) -> int:
    """Tell each member what will be collected, when, under which mandate (e-mail through the
    outbox, once: a debit is marked when its member was told; members without an address are
    on the letter list, `letters_of`). Returns how many e-mails were queued."""
    from outbox import services as outbox

    sent = 0
    while True:
        with transaction.atomic():
            # Rows another worker holds are skipped, not waited for; each is claimed (marked)
            # and told in the same transaction, so nobody is told twice or never.
            batch = list(
                Debit.objects.filter(collection=collection, notified_on__isnull=True)
                .select_for_update(skip_locked=True, of=("self",))
                .select_related("member", "mandate")
                .order_by("pk")[:500]
            )
            if not batch:
                return sent
            Debit.objects.filter(pk__in=[d.pk for d in batch]).update(
                notified_on=timezone.localdate()
            )
            for debit in batch:
                if not debit.member.email:
                    continue
                outbox.send_templated(
                    name="sepa_prenotification",
                    to=[debit.member.email],
                    context=_prenotification_context(collection, debit),
                    sensitive=True,
                )
                sent += 1


def _prenotification_context(collection: Collection, debit: Debit) -> dict[str, Any]:
    return {
        "member": debit.member,
        "debit": debit,
        "mandate": debit.mandate,
        "due_on": collection.due_on,
        "creditor_id": settings.MUSTERROLLE_SEPA_CREDITOR_ID,
        "creditor_name": settings.MUSTERROLLE_SEPA_CREDITOR_NAME,
        "iban_end": debit.mandate.iban[-4:],
        "reference": reference_for(debit.member.membership_number, debit.year),
        "office_email": settings.MUSTERROLLE_OFFICE_EMAIL,
    }


def letters_of(collection: Collection) -> list[Debit]:
    """The debits of members without an e-mail address: told by letter."""
    return list(
        Debit.objects.filter(collection=collection, member__email="").select_related(
            "member", "mandate", "collection"
        )
    )


def letters_file_name(collection: Collection) -> str:
    return f"vorabankuendigung-{collection.due_on.isoformat()}-{collection.pk}.pdf"


def write_letters(collection: Collection) -> str | None:
    """The pre-notification letters as one PDF in MUSTERROLLE_LETTERS_DIR; its path."""
    from finance import letters

    debits = letters_of(collection)
    if not debits:
        return None
    path = settings.MUSTERROLLE_LETTERS_DIR / letters_file_name(collection)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(letters.prenotification_letters_pdf(debits))
    return str(path)


# --- Returns -----------------------------------------------------------------------------


def on_returns(returns: Iterable[Payment], *, on: date) -> list[Debit]:
    """Returned debits (matched by end-to-end id) are marked; a return saying the mandate or
    the account cannot be used makes the mandate unusable and tells the member's board."""
    by_e2e: dict[str, Payment] = {}
    for payment in returns:
        if payment.amount >= 0:
            continue
        original = payment.reverses.end_to_end_id if payment.reverses else ""
        if e2e := payment.end_to_end_id or original:
            by_e2e[e2e] = payment
    if not by_e2e:
        return []
    debits = list(
        Debit.objects.filter(
            end_to_end_id__in=list(by_e2e), returned_on__isnull=True
        ).select_related("mandate", "member")
    )
    fees = _return_fees([by_e2e[debit.end_to_end_id] for debit in debits])
    for debit in debits:
        returned = by_e2e[debit.end_to_end_id]
        code = (returned.return_reason or "").strip().upper()[:4]
        debit.returned_on = on
        debit.return_reason = code
        debit.save(update_fields=["returned_on", "return_reason"])
        if fee := fees.get(returned.bank_reference):
            Charge.objects.create(
                member_id=debit.member_id,
                year=debit.year,
                kind=Charge.Kind.RETURN_FEE,
                amount=fee,
                due_on=on,
                overdue_on=on + timedelta(days=30),
                memo=f"Rücklastschrift {debit.end_to_end_id}: Bankgebühren",
            )
        if code in UNUSABLE:
            updated = Mandate.objects.filter(
                pk=debit.mandate_id, unusable_since__isnull=True
            ).update(unusable_since=on, unusable_reason=code)
            if updated:
                _tell_board(debit, code)
    return debits


def _return_fees(returns: list[Payment]) -> dict[str, Decimal]:
    """The banks' charges of these returns, by the return's bank reference, if the finance
    order passes them on to the member (MUSTERROLLE_SEPA_RETURN_FEES_TO_MEMBER; default no:
    the party bears them)."""
    from finance.payments import RETURN_FEE

    if not settings.MUSTERROLLE_SEPA_RETURN_FEES_TO_MEMBER or not returns:
        return {}
    refs = {p.bank_reference + RETURN_FEE: p.bank_reference for p in returns if p.bank_reference}
    return {
        refs[reference]: -amount
        for reference, amount in Payment.objects.filter(bank_reference__in=list(refs)).values_list(
            "bank_reference", "amount"
        )
    }


def _tell_board(debit: Debit, code: str) -> None:
    """The treasurers and boards of the member's division and the divisions above it."""
    from outbox import services as outbox

    division = debit.member.division
    to = sorted(
        set(
            access.holders(
                access.Action.VIEW_FINANCE,
                Division.objects.filter(path__in=division.ancestor_paths()),
            )
            .exclude(user__email="")
            .values_list("user__email", flat=True)
        )
    )
    if to:
        outbox.send_templated(
            name="sepa_mandate_unusable",
            to=to,
            context={"member": debit.member, "debit": debit, "code": code},
            sensitive=True,
        )
