"""Annual contribution receipts (Zuwendungsbestätigung: a collective confirmation of
membership fees and monetary donations to a political party, § 34g and § 10b EStG).

Once a year the federal office issues each member a receipt for the previous year: the sums
are what the party's annual report counts (finance.contributions): money booked in that
year with the purpose dues or donation, returns included, the parts of a divided booking
counted and the divided original not. A member whose year adds up to nothing or less gets
none; money nobody could match belongs to no member and gets none.

A run (`start_run`, then the task `finance.contribution_receipts`, or `issue_receipts` at
once for the command) works through the members in batches of id ranges. For each member it
compares the year's contributions with the member's current receipt: equal, nothing happens
(running twice issues nothing new); different, a new receipt replaces the old one and says
so in its text; nothing left to confirm, the old one is withdrawn. Each new receipt gets the
year's next number, goes out by e-mail with its PDF through the outbox, or to the print file
of the run for members without an address. One current receipt per member and year is a
database constraint, one active run per year too (it numbers the receipts).

Storage: a receipt is kept as its row (number, sums, each contribution, the address and the
wording version it was issued with; a few hundred bytes), not as a PDF (about 20 KB): at
500,000 members for ten years the rows take a few GB, the PDFs would take 100 GB. The PDF
is rendered again from the row, byte for byte the same, whenever it is needed (a download,
the print file).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, fields
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Max, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from finance import receipts_pdf
from finance.contributions import counted
from finance.letters import PDF, address_lines
from finance.models import ContributionReceipt, Payment, ReceiptRun, ReceiptWording
from members import access
from members.models import Division, Member
from ops import dispatch

if TYPE_CHECKING:
    from members.models import User

BATCH = 500
PRINT_PART = 1000  # receipts per print file: one document holds all its pages in memory
LEASE = timedelta(minutes=5)  # a run whose worker is silent this long may be taken over
QUEUED_TOO_LONG = timedelta(hours=1)
ZERO = Decimal("0.00")
DUES, DONATION = Payment.Purpose.DUES.value, Payment.Purpose.DONATION.value

DEFAULT_TITLE = (
    "Sammelbestätigung über Mitgliedsbeiträge und Geldzuwendungen an politische Parteien "
    "im Sinne des Parteiengesetzes"
)
DEFAULT_DECLARATIONS = """\
Es handelt sich nicht um den Verzicht auf die Erstattung von Aufwendungen.

Wir bestätigen, dass die Mitgliedsbeiträge und Geldzuwendungen nur für satzungsgemäße Zwecke
der Partei im Sinne des § 2 des Parteiengesetzes verwendet werden.

Über die in der Gesamtsumme enthaltenen Zuwendungen sind weder weitere Bestätigungen noch
Beitragsquittungen oder Ähnliches ausgestellt worden, und es werden auch keine ausgestellt.

Mitgliedsbeiträge und Geldzuwendungen an politische Parteien sind nach § 34g und § 10b
Absatz 2 des Einkommensteuergesetzes steuerlich begünstigt. Bitte bewahre diese Bestätigung
für deine Steuererklärung auf.

Diese Bestätigung wurde maschinell erstellt und ist ohne Unterschrift gültig; das Verfahren
ist dem zuständigen Finanzamt angezeigt."""
DEFAULT_NOTICE = (
    "Hinweis: Wer vorsätzlich oder grob fahrlässig eine unrichtige Zuwendungsbestätigung "
    "ausstellt oder veranlasst, dass Zuwendungen nicht zu den in der Bestätigung angegebenen "
    "Zwecken verwendet werden, haftet für die dadurch entgangene Steuer (§ 10b Absatz 4 EStG, "
    "§ 9 Absatz 3 KStG, § 9 Nummer 5 GewStG)."
)


# --- The wording -------------------------------------------------------------------------


def current_wording() -> ReceiptWording:
    """The wording new receipts are issued with: the newest version; a default one (for the
    federal office to adapt in the admin) when there is none yet."""
    wording = ReceiptWording.objects.order_by("-pk").first()
    if wording is None:
        wording = ReceiptWording.objects.create(
            # The party's name as its bank account has it (the SEPA creditor).
            party_name=settings.MUSTERROLLE_SEPA_CREDITOR_NAME or "Musterpartei",
            party_address="\n".join(
                part.strip()
                for part in (
                    settings.MUSTERROLLE_OFFICE_ADDRESS or "Musterstraße 1, 10115 Berlin"
                ).split(",")
                if part.strip()
            ),
            title=DEFAULT_TITLE,
            declarations=DEFAULT_DECLARATIONS,
            notice=DEFAULT_NOTICE,
            place="Berlin",
            signatory="Bundesschatzmeisterin / Bundesschatzmeister",
        )
    return wording


@transaction.atomic
def save_wording(*, wording: ReceiptWording, by: User | None) -> ReceiptWording:
    """Add a version of the wording, or change one no receipt was issued with yet (a receipt
    is rendered again from the version it was issued with: that one stays as it was)."""
    from members.services import record_audit

    if by is not None and not access.has_global_access(by):
        raise PermissionDenied(_("Only the federal office sets the wording of the receipts."))
    added = wording.pk is None
    if not added and ContributionReceipt.objects.filter(wording=wording).exists():
        raise ValidationError(
            _("Receipts were issued with this wording; add a new version instead.")
        )
    if added:
        wording.created_by = by
    wording.save()
    record_audit(
        actor=by,
        action="receipts.wording_added" if added else "receipts.wording_changed",
        obj=wording,
        summary=f"Wording of the contribution receipts {'added' if added else 'changed'}",
    )
    return wording


# --- What a member's year adds up to ----------------------------------------------------


@dataclass(frozen=True)
class Contributions:
    """A member's year as the receipt states it: the sums by purpose (as the ledger has them)
    and the contributions one by one, each return set off against what it returned."""

    dues: Decimal
    donations: Decimal
    lines: tuple[tuple[str, str, str], ...]  # (booked on ISO, purpose, "120.00"), by date

    @property
    def total(self) -> Decimal:
        return self.dues + self.donations

    def same_as(self, receipt: ContributionReceipt) -> bool:
        return (
            receipt.dues == self.dues
            and receipt.donations == self.donations
            and [tuple(line) for line in receipt.lines] == list(self.lines)
        )


def contributions_of(rows: Iterable[tuple[int, date, str, Decimal, int | None]]) -> Contributions:
    """From a member's counted payments of the year (pk, booked on, purpose, amount, the pk
    of the payment it reverses): a return takes its amount off the payment it reverses; a
    negative amount without one (a refund) off the latest payments of the same purpose."""
    payments = sorted(rows, key=lambda row: (row[1], row[0]))
    sums = {DUES: ZERO, DONATION: ZERO}
    open_: dict[int, list[Any]] = {}  # pk: [booked on, purpose, amount left]
    negatives = []
    for pk, booked_on, purpose, amount, reverses in payments:
        sums[purpose] += amount
        if amount > 0:
            open_[pk] = [booked_on, purpose, amount]
        elif amount < 0:
            negatives.append((booked_on, purpose, -amount, reverses))
    left_over = []
    for booked_on, purpose, amount, reverses in negatives:
        targets = [open_[reverses]] if reverses in open_ else []
        targets += [line for line in reversed(open_.values()) if line[1] == purpose]
        for line in targets:
            if line[1] != purpose or amount <= 0:
                continue
            taken = min(amount, line[2])
            line[2] -= taken
            amount -= taken
        if amount > 0:
            left_over.append([booked_on, purpose, -amount])
    lines = sorted(
        (
            (booked_on.isoformat(), purpose, f"{amount:.2f}")
            for booked_on, purpose, amount in [*open_.values(), *left_over]
            if amount != 0
        ),
        key=lambda line: (line[0], line[1] != DUES),
    )
    return Contributions(sums[DUES], sums[DONATION], tuple(lines))


# --- Planning: what a run would do ------------------------------------------------------


@dataclass
class Tally:
    """What a run did (or, as a dry run, would do), member by member."""

    members: int = 0  # looked at
    issued: int = 0  # a first receipt for the year
    corrected: int = 0  # a new receipt replacing the current one
    withdrawn: int = 0  # the current receipt no longer holds: nothing left to confirm
    unchanged: int = 0
    nothing: int = 0  # no receipt: the year adds up to nothing or less
    emailed: int = 0
    letters: int = 0
    dues: Decimal = ZERO  # in the receipts issued and corrected
    donations: Decimal = ZERO

    def add(self, other: Tally) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


@dataclass(frozen=True)
class _Decision:
    member: Member
    contributions: Contributions | None  # None: withdraw the current receipt
    current: ContributionReceipt | None


@dataclass
class _Batch:
    ids: list[int]
    decisions: list[_Decision] = field(default_factory=list)
    tally: Tally = field(default_factory=Tally)


def _members(*, division: Division | None, by: User | None) -> QuerySet[Member]:
    members = (
        Member.objects.visible_to(by, access.Action.VIEW_FINANCE)
        if by is not None
        else Member.objects.all()
    )
    return members.in_subtree(division) if division is not None else members


def _member_ids(year: int, members: QuerySet[Member]) -> list[int]:
    """Everyone with money counted in the year, and everyone holding a receipt for it."""
    paying = (
        Payment.objects.filter(counted(year), member__in=members)
        .order_by()
        .values_list("member_id", flat=True)
        .distinct()
    )
    holding = (
        ContributionReceipt.objects.current()
        .filter(year=year, member__in=members)
        .values_list("member_id", flat=True)
    )
    return sorted({*paying.iterator(chunk_size=5000), *holding.iterator(chunk_size=5000)})


def _batches(year: int, ids: list[int]) -> Iterator[_Batch]:
    for start in range(0, len(ids), BATCH):
        batch = _Batch(ids[start : start + BATCH])
        _decide(year, batch)
        yield batch


def _decide(year: int, batch: _Batch) -> None:
    # Ranges of ids are cheap to send and to plan; members in the range who are not in
    # the batch (another division, nothing this year) are left out here.
    wanted = set(batch.ids)
    within = {"member_id__gte": batch.ids[0], "member_id__lte": batch.ids[-1]}
    rows: dict[int, list[tuple[int, date, str, Decimal, int | None]]] = defaultdict(list)
    for member_id, *row in (
        Payment.objects.filter(counted(year), **within)
        .order_by()
        .values_list("member_id", "pk", "booked_on", "purpose", "amount", "reverses_id")
    ):
        if member_id in wanted:
            rows[member_id].append(tuple(row))  # type: ignore[arg-type]
    current = {
        receipt.member_id: receipt
        for receipt in ContributionReceipt.objects.current()
        .filter(year=year, **within)
        .defer("address")
        if receipt.member_id in wanted
    }
    people = Member.objects.filter(pk__in=batch.ids).only(
        "membership_number",
        "first_name",
        "last_name",
        "street",
        "postal_code",
        "city",
        "country",
        "email",
    )
    tally = batch.tally
    for member in people.order_by("pk"):
        tally.members += 1
        contributions = contributions_of(rows.get(member.pk, ()))
        old = current.get(member.pk)
        if contributions.total <= 0:
            if old is None:
                tally.nothing += 1
            else:
                tally.withdrawn += 1
                batch.decisions.append(_Decision(member, None, old))
            continue
        if old is not None and contributions.same_as(old):
            tally.unchanged += 1
            continue
        if old is None:
            tally.issued += 1
        else:
            tally.corrected += 1
        if member.email:
            tally.emailed += 1
        else:
            tally.letters += 1
        tally.dues += contributions.dues
        tally.donations += contributions.donations
        batch.decisions.append(_Decision(member, contributions, old))


def plan(*, year: int, division: Division | None = None, by: User | None = None) -> Tally:
    """A dry run: what a run would do now. Writes nothing."""
    _may_run(by)
    tally = Tally()
    for batch in _batches(year, _member_ids(year, _members(division=division, by=by))):
        tally.add(batch.tally)
    return tally


# --- Running -----------------------------------------------------------------------------


def _may_run(by: User | None) -> None:
    if by is not None and not access.has_global_access(by):
        raise PermissionDenied(_("Only the federal office issues contribution receipts."))


def check_year(year: int, today: date | None = None) -> None:
    today = today or timezone.localdate()
    if not 2000 <= year < today.year:
        raise ValidationError(
            _("Receipts are issued for a past year (%(year)s at the latest).")
            % {"year": today.year - 1}
        )


@transaction.atomic
def start_run(
    *,
    year: int,
    division: Division | None = None,
    by: User | None,
    dry_run: bool = False,
    enqueue: bool = True,
) -> ReceiptRun:
    """Record a run (the federal office's alone; one that issues receipts per year at a
    time, dry runs as many as wanted) and hand it to the worker once the transaction
    commits."""
    from members.services import record_audit

    _may_run(by)
    check_year(year)
    now = timezone.now()
    # A run whose worker died (and that no worker took over) does not block the year.
    ReceiptRun.objects.filter(year=year).filter(
        Q(status=ReceiptRun.Status.RUNNING, heartbeat_at__lt=now - LEASE)
        | Q(status=ReceiptRun.Status.QUEUED, created_at__lt=now - QUEUED_TOO_LONG)
    ).update(
        status=ReceiptRun.Status.FAILED,
        error="Interrupted; a later run took over.",
        token="",  # a worker still holding the old token can write nothing more
    )
    try:
        with transaction.atomic():
            run = ReceiptRun.objects.create(
                year=year, division=division, dry_run=dry_run, created_by=by
            )
    except IntegrityError as error:
        raise ValidationError(
            _("Receipts for %(year)s are being issued already; wait until that run is done.")
            % {"year": year}
        ) from error
    record_audit(
        actor=by,
        action="receipts.run_started",
        obj=run,
        division=division,
        summary=f"Contribution receipts {year}{' (dry run)' if dry_run else ''} started"
        + (f" for {division.code}" if division else ""),
        data={"year": year, "dry_run": dry_run},
    )
    if enqueue:
        from finance import tasks

        dispatch.enqueue(tasks.contribution_receipts, run.pk)
    return run


def issue_receipts(
    *, year: int, division: Division | None = None, by: User | None = None
) -> ReceiptRun:
    """A run done at once, in this process (the command; the bench)."""
    run = start_run(year=year, division=division, by=by, enqueue=False)
    return execute_run(run_id=run.pk)


class _Lost(Exception):
    """Another worker took the run over: this one stops."""


def execute_run(*, run_id: int) -> ReceiptRun:
    """Work a run through (the task). Claims it first: a run that is claimed by a worker
    alive is left alone, one whose worker went silent is taken over, and each batch is its
    own transaction that only its holder commits; taken over or run again, members already
    done are unchanged and nothing is issued twice."""
    token = uuid.uuid4().hex
    now = timezone.now()
    run = ReceiptRun.objects.select_related("division", "created_by").get(pk=run_id)
    # Counted again from the start: what members were looked at (a run taken over counts
    # the receipts its first worker issued as unchanged); a dry run everything.
    again = _COUNTS if run.dry_run else ("unchanged", "nothing")
    claimed = (
        ReceiptRun.objects.filter(pk=run_id)
        .filter(
            Q(status=ReceiptRun.Status.QUEUED)
            | Q(status=ReceiptRun.Status.RUNNING, heartbeat_at__lt=now - LEASE)
        )
        .update(
            status=ReceiptRun.Status.RUNNING,
            token=token,
            heartbeat_at=now,
            done=0,
            **dict.fromkeys(again, 0),
        )
    )
    if not claimed:
        return run
    try:
        _work(run, token)
    except _Lost:
        return ReceiptRun.objects.get(pk=run_id)
    except Exception as error:
        ReceiptRun.objects.filter(pk=run_id, token=token).update(
            status=ReceiptRun.Status.FAILED, error=f"{type(error).__name__}: {error}"[:2000]
        )
        raise
    return ReceiptRun.objects.get(pk=run_id)


def _work(run: ReceiptRun, token: str) -> None:
    from members.services import record_audit

    members = _members(division=run.division, by=run.created_by)
    ids = _member_ids(run.year, members)
    if not ReceiptRun.objects.filter(pk=run.pk, token=token).update(total=len(ids)):
        raise _Lost
    wording = current_wording()
    today = timezone.localdate()
    for batch in _batches(run.year, ids):
        if run.dry_run:
            with transaction.atomic():
                _count(run, token, batch)
        else:
            _write(run, token, batch, wording, today)
    finished = ReceiptRun.objects.filter(pk=run.pk, token=token).update(
        status=ReceiptRun.Status.DONE, finished_at=timezone.now()
    )
    if not finished:
        raise _Lost
    run.refresh_from_db()
    record_audit(
        actor=run.created_by,
        action="receipts.dry_run_finished" if run.dry_run else "receipts.run_finished",
        obj=run,
        division=run.division,
        summary=(
            f"Contribution receipts {run.year}{' (dry run)' if run.dry_run else ''}: "
            f"{run.issued} issued, {run.corrected} corrected, {run.withdrawn} withdrawn, "
            f"{run.unchanged} unchanged"
        ),
        data={name: str(getattr(run, name)) for name in ("done", *_COUNTS)},
    )


def _write(
    run: ReceiptRun, token: str, batch: _Batch, wording: ReceiptWording, today: date
) -> None:
    """One batch: its receipts numbered, rendered and sent, the ones they replace marked, the
    run's counts moved on; all in one transaction, committed only by the run's holder."""
    from outbox import services as outbox

    serial = (
        ContributionReceipt.objects.filter(year=run.year).aggregate(last=Max("serial"))["last"] or 0
    )
    new: list[ContributionReceipt] = []
    for decision in batch.decisions:
        if decision.contributions is None:
            continue
        serial += 1
        new.append(_receipt(run, decision, wording, serial, today))
    # Rendered before the transaction: it stays short, and a batch's PDFs are all it holds.
    attachments = {r.number: receipts_pdf.receipt_pdf(r) for r in new if r.channel == "email"}
    superseded = [d.current.pk for d in batch.decisions if d.current is not None]
    with transaction.atomic():
        _count(run, token, batch)
        if superseded:
            marked = ContributionReceipt.objects.filter(
                pk__in=superseded, superseded_at__isnull=True
            ).update(superseded_at=timezone.now())
            if marked != len(superseded):
                raise IntegrityError("A receipt of this batch was superseded meanwhile.")
        ContributionReceipt.objects.bulk_create(new)
        outbox.send_templated_many(
            name="contribution_receipt",
            messages=[
                outbox.Templated(
                    to=[receipt.member.email],
                    context=_email_context(receipt),
                    attachments=[
                        (receipts_pdf.file_name(receipt), attachments[receipt.number], PDF)
                    ],
                )
                for receipt in new
                if receipt.channel == ContributionReceipt.Channel.EMAIL
            ],
            sensitive=True,
        )


def _count(run: ReceiptRun, token: str, batch: _Batch) -> None:
    """Add the batch to the run's counts, in the batch's transaction: only the run's holder
    gets through."""
    tally = batch.tally
    moved = ReceiptRun.objects.filter(pk=run.pk, token=token).update(
        heartbeat_at=timezone.now(),
        done=F("done") + len(batch.ids),
        **{name: F(name) + getattr(tally, name) for name in _COUNTS},
    )
    if not moved:
        raise _Lost


# What each batch adds to its run's counts.
_COUNTS = (
    "nothing",
    "issued",
    "corrected",
    "withdrawn",
    "unchanged",
    "emailed",
    "letters",
    "dues",
    "donations",
)


def _receipt(
    run: ReceiptRun, decision: _Decision, wording: ReceiptWording, serial: int, today: date
) -> ContributionReceipt:
    member, contributions = decision.member, decision.contributions
    assert contributions is not None  # noqa: S101 - only issued decisions come here
    return ContributionReceipt(
        number=f"{run.year}-{serial:06d}",
        year=run.year,
        serial=serial,
        member=member,
        run=run,
        wording=wording,
        issued_on=today,
        dues=contributions.dues,
        donations=contributions.donations,
        lines=[list(line) for line in contributions.lines],
        address=address_lines(member),
        channel=(
            ContributionReceipt.Channel.EMAIL
            if member.email
            else ContributionReceipt.Channel.LETTER
        ),
        replaces=decision.current,
    )


def _email_context(receipt: ContributionReceipt) -> dict[str, Any]:
    return {
        "member": receipt.member,
        "receipt": receipt,
        "replaces": receipt.replaces,
        "party": receipt.wording.party_name,
        "office_email": settings.MUSTERROLLE_OFFICE_EMAIL,
    }


# --- Reading -----------------------------------------------------------------------------


def tally_of(run: ReceiptRun) -> Tally:
    """What a run did, as its counts say."""
    return Tally(
        members=run.done,
        issued=run.issued,
        corrected=run.corrected,
        withdrawn=run.withdrawn,
        unchanged=run.unchanged,
        nothing=run.nothing,
        emailed=run.emailed,
        letters=run.letters,
        dues=run.dues,
        donations=run.donations,
    )


def receipts_visible_to(user: User) -> QuerySet[ContributionReceipt]:
    """The receipts of members in the areas whose finances the user may see."""
    return ContributionReceipt.objects.visible_to(user).select_related("member")


def render(receipt: ContributionReceipt) -> bytes:
    """The receipt's PDF, rendered again from its row."""
    return receipts_pdf.receipt_pdf(receipt)


def letters_of(run: ReceiptRun) -> QuerySet[ContributionReceipt]:
    """The run's receipts for members without an e-mail address, in postal-code order."""
    return (
        ContributionReceipt.objects.filter(run=run, channel=ContributionReceipt.Channel.LETTER)
        .select_related("member", "wording", "replaces")
        .order_by("member__postal_code", "member__last_name", "pk")
    )


def print_parts(run: ReceiptRun) -> int:
    count = letters_of(run).count()
    return (count + PRINT_PART - 1) // PRINT_PART


def print_pdf(run: ReceiptRun, part: int) -> tuple[bytes, list[int]]:
    """Part `part` (from 0) of the run's print file and the members whose receipts it holds."""
    rows = list(letters_of(run)[part * PRINT_PART : (part + 1) * PRINT_PART])
    return receipts_pdf.receipts_pdf(rows), [row.member_id for row in rows]


def print_file_name(run: ReceiptRun, part: int) -> str:
    return f"zuwendungsbestaetigungen-{run.year}-{run.pk}-{part + 1}.pdf"
