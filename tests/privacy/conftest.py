"""A member touched by every app: the data subject access report must find each part."""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from allauth.account.models import EmailAddress
from django.contrib.admin.models import CHANGE, LogEntry
from django.utils import timezone

from assemblies.models import Assembly, Attendance, Ballot, Entry
from finance import receipts
from finance.models import (
    Charge,
    ContributionReceipt,
    Debit,
    Mandate,
    OpeningBalance,
    Payment,
    ReceiptRun,
    ReductionNotice,
    Reminder,
    StrikeOff,
    Switchover,
)
from finance.models import Collection as DebitCollection
from mailings.models import Delivery, Mailing, Suppression
from members import access_log, services
from members.models import AccessKind, Member, RequestKind, RoleAssignment, User
from onboarding.models import (
    Candidate,
    Channel,
    ChannelAccess,
    Circle,
    CircleMembership,
    Mediation,
    MediationSession,
    Meeting,
    Removal,
    Response,
)
from outbox import services as outbox
from privacy.models import LegalHold, RetentionNotice
from tests.factories import make_member, make_user

BERLIN = ZoneInfo("Europe/Berlin")
SECRET_NOTE = "Vertraulich: wirkte im Gespräch unsicher"


@dataclass
class Touched:
    member: Member
    account: User
    board: User


@pytest.fixture
def touched(tree, board_sn, federal_admin) -> Touched:
    member = make_member(
        tree.leipzig,
        first_name="Ada",
        last_name="Auskunft",
        email="ada@example.org",
        newsletter_consent=True,
    )
    services.update_member(
        by=federal_admin, member=member, changes={"newsletter_consent": False}, reason="Abmeldung"
    )
    services.submit_change_request(
        by=board_sn, kind=RequestKind.CONTACT, member=member, values={"city": "Halle"}
    )
    account = make_user("ada@example.org", tree.leipzig, "viewer")
    EmailAddress.objects.get_or_create(user=account, email=account.email, verified=True)
    day = date(2026, 3, 2)
    Charge.objects.create(
        member=member, year=2026, kind="dues", amount=Decimal("120.00"), due_on=day, overdue_on=day
    )
    Payment.objects.create(
        member=member,
        amount=Decimal("120.00"),
        booked_on=day,
        reference="Beitrag",
        counterparty_name="Ada Auskunft",
        counterparty_iban="DE89370400440532013000",
    )
    Payment.objects.create(
        suggested_member=member, amount=Decimal("5.00"), booked_on=day, reference="?"
    )
    Reminder.objects.create(
        member=member,
        level=1,
        arrears_since=day,
        sent_on=day,
        amount=Decimal("120.00"),
        reference="MB",
        channel=Reminder.Channel.EMAIL,
    )
    StrikeOff.objects.create(
        member=member,
        arrears_since=day,
        proposed_on=day,
        amount=Decimal("120.00"),
        status=StrikeOff.Status.DROPPED,
    )
    ReductionNotice.objects.create(member=member, reduced_until=day, sent_on=day)
    mandate = Mandate.objects.create(
        member=member,
        reference="MR-ADA",
        signed_on=day,
        holder="Ada Auskunft",
        iban="DE89370400440532013000",
    )
    collection = DebitCollection.objects.create(
        due_on=day, division=tree.sn, message_id="MR-ADA", file_gz=b""
    )
    Debit.objects.create(
        collection=collection,
        member=member,
        mandate=mandate,
        year=2026,
        month=0,
        amount=Decimal("120.00"),
        sequence="FRST",
        end_to_end_id="ADA-1",
    )
    switchover = Switchover.objects.create(
        filename="alt.xlsx",
        sha256="0" * 64,
        content=b"",
        values={},
        cutover_on=date(2025, 12, 31),
        created_by=federal_admin,
    )
    OpeningBalance.objects.create(
        member=member,
        switchover=switchover,
        on=date(2025, 12, 31),
        balance=Decimal(0),
        iban="DE89370400440532013000",
    )
    run = ReceiptRun.objects.create(year=2025, division=tree.sn, status="done")
    ContributionReceipt.objects.create(
        number="2025-000001",
        year=2025,
        serial=1,
        member=member,
        run=run,
        wording=receipts.current_wording(),
        issued_on=date(2026, 1, 15),
        dues=Decimal("120.00"),
        donations=Decimal(0),
        lines=[],
        address=["Ada Auskunft"],
        channel="email",
    )
    mailing = Mailing.objects.create(
        division=tree.sn,
        kind="newsletter",
        status="sent",
        sender_name="LV Sachsen",
        reply_to="lv@example.org",
        subject="Sommerfest",
        body="Hallo",
        created_by=board_sn,
    )
    Delivery.objects.create(
        mailing=mailing,
        member=member,
        email=member.email,
        status="sent",
        sent_at=datetime(2026, 4, 1, 10, tzinfo=BERLIN),
    )
    Suppression.objects.create(email=member.email, reason="complained")
    outbox.queue(to=[member.email], subject="Willkommen", text="Hallo Ada")
    circle = Circle.objects.create(name="Utopie25")
    CircleMembership.objects.create(circle=circle, user=account, joined_on=day)
    candidate = Candidate.objects.create(
        circle=circle,
        first_name="Ada",
        last_name="Auskunft",
        email="ada@example.org",
        notes=SECRET_NOTE,
        state="admitted",
        user=account,
        registered_by=board_sn,
    )
    Meeting.objects.create(
        candidate=candidate, held_on=day, met_by="Uta", note=SECRET_NOTE, recorded_by=board_sn
    )
    Response.objects.create(
        candidate=candidate,
        member=board_sn,
        veto=True,
        reason=SECRET_NOTE,
        answered_at=timezone.now(),
        period_opened_on=day,
    )
    other = Candidate.objects.create(
        circle=circle,
        first_name="Bo",
        last_name="Andere",
        email="bo@example.org",
        registered_by=board_sn,
    )
    Response.objects.create(
        candidate=other,
        member=account,
        veto=False,
        answered_at=timezone.now(),
        period_opened_on=day,
    )
    channel = Channel.objects.create(circle=circle, name="Chat", kind="chat")
    ChannelAccess.objects.create(channel=channel, user=account, action="grant")
    mediation = Mediation.objects.create(circle=circle, subject="Streit", opened_by=board_sn)
    mediation.parties.add(account)
    mediation.mediators.add(account)
    MediationSession.objects.create(
        mediation=mediation,
        held_on=day,
        outcome="not_resolved",
        notes=SECRET_NOTE,
        recorded_by=board_sn,
    )
    Removal.objects.create(
        circle=circle, user=account, reason=SECRET_NOTE, decided_by=board_sn, decided_on=day
    )
    assembly = Assembly.objects.create(
        division=tree.sn,
        kind="members",
        title="LMV",
        cutoff_on=day,
        starts_at=datetime(2026, 5, 1, 10, tzinfo=BERLIN),
        place="Leipzig",
        created_by=board_sn,
    )
    Entry.objects.create(assembly=assembly, member=member, division=tree.leipzig, reason="")
    Ballot.objects.create(assembly=assembly, member=member, number="12345674")
    Attendance.objects.create(
        assembly=assembly, member=member, eligible=True, checked_in_by=board_sn
    )
    access_log.record(board_sn, AccessKind.PAGE, path="/members/1/", member=member)
    access_log.record(
        board_sn, AccessKind.EXPORT, path="export", detail="Einladung", member_ids=[member.pk, 1]
    )
    LegalHold.objects.create(
        member=member,
        kind="dispute",
        reason="Schiedsverfahren",
        placed_by=federal_admin,
        placed_on=day,
    )
    RetentionNotice.objects.create(member=member, sent_on=day, due_on=day, channel="email")
    assert RoleAssignment.objects.filter(user=account).exists()
    LogEntry.objects.log_actions(
        user_id=federal_admin.pk, queryset=[member], action_flag=CHANGE, change_message="Adresse"
    )
    member.refresh_from_db()
    return Touched(member=member, account=account, board=board_sn)
