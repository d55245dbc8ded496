"""Demo data for data protection (called by seed_demo, after the other apps). Idempotent.

One Saxon member touched by every app, for the Art. 15 report: payments, a change request, a
newsletter received, an onboarding record, and boards who looked at the member. And a history
for retention: a few former members told seven months ago (due now), one under a legal hold.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from mailings.models import Delivery, Mailing
from members import access_log, services
from members.models import AccessKind, Division, Member, MemberStatus, RequestKind, User
from onboarding.models import Candidate, CandidateState, Circle
from privacy.models import LegalHold, RetentionNotice

DEMO_MARK = "Rundbrief Herbst (Demo)"


class Command(BaseCommand):
    help = "Load demo data for the Art. 15 report and the retention preview (idempotent)."

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        if Mailing.objects.filter(subject=DEMO_MARK).exists():
            return
        board = User.objects.filter(email="vorstand-sn@example.org").first()
        treasurer = User.objects.filter(email="schatz-sn@example.org").first()
        federal = User.objects.filter(email="bund@example.org").first()
        sachsen = Division.objects.filter(code="SN").first()
        if not (board and treasurer and federal and sachsen):
            return
        member = (
            Member.objects.current()
            .in_subtree(sachsen)
            .exclude(email="")
            .filter(payments__isnull=False)
            .order_by("membership_number")
            .first()
        )
        if member is None:
            return
        self._touch(member, board, treasurer, sachsen)
        self._retention_history(federal)
        self.stdout.write(
            f"Art. 15 demo: member {member.membership_number} ({member.first_name} "
            f"{member.last_name}) has payments, a change request, a newsletter, an onboarding "
            "record and was looked at."
        )

    def _touch(self, member: Member, board: User, treasurer: User, sachsen: Division) -> None:
        now = timezone.now()
        if not member.change_requests.exists():
            services.submit_change_request(
                by=board,
                kind=RequestKind.CONTACT,
                member=member,
                values={"phone": "0341 1234567"},
                note="Telefonnummer am Infostand genannt",
            )
        mailing = Mailing.objects.create(
            division=sachsen,
            kind=Mailing.Kind.NEWSLETTER,
            status=Mailing.Status.SENT,
            sender_name="Landesvorstand Sachsen",
            reply_to="vorstand-sn@example.org",
            subject=DEMO_MARK,
            body="Hallo {{ vorname }},\n\nunser Rundbrief.",
            created_by=board,
            started_at=now - timedelta(days=40),
            finished_at=now - timedelta(days=40),
            total=1,
        )
        Delivery.objects.create(
            mailing=mailing,
            member=member,
            email=member.email,
            status=Delivery.Status.SENT,
            sent_at=now - timedelta(days=40),
        )
        circle = Circle.objects.filter(name="Utopie25").first()
        if circle is not None:
            Candidate.objects.create(
                circle=circle,
                first_name=member.first_name,
                last_name=member.last_name,
                email=member.email,
                found_via="Landesparteitag",
                notes="Wirkte im Gespräch zurückhaltend.",  # the coordinators' own: withheld
                state=CandidateState.WITHDRAWN,
                registered_by=circle.memberships.order_by("pk").first().user,
            )
        for user, kind in ((board, AccessKind.PAGE), (treasurer, AccessKind.PAGE)):
            access_log.record(user, kind, path=f"/members/{member.pk}/", member=member)

    def _retention_history(self, federal: User) -> None:
        """Five former members told seven months ago: the retention preview lists them as
        due; one more under a legal hold."""
        today = timezone.localdate()
        keep = relativedelta(months=settings.MUSTERROLLE_RETENTION_MONTHS["register"])
        former = (
            Member.objects.filter(
                status=MemberStatus.ENDED, balance=0, left_on__lte=today - keep, email__gt=""
            )
            .exclude(retention_notice__isnull=False)
            .order_by("left_on", "pk")
        )
        told = today - relativedelta(months=7)
        for member in former[:5]:
            RetentionNotice.objects.create(
                member=member,
                sent_on=told,
                due_on=told + relativedelta(months=settings.MUSTERROLLE_RETENTION_NOTICE_MONTHS),
                channel=RetentionNotice.Channel.EMAIL,
            )
        held = former[5:6].first()
        if held is not None:
            LegalHold.objects.create(
                member=held,
                kind=LegalHold.Kind.DISPUTE,
                reason="Verfahren vor dem Schiedsgericht (Demo)",
                placed_by=federal,
                placed_on=today - timedelta(days=30),
            )
