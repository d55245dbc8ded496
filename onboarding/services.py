"""Every write in onboarding: circles, candidates, veto periods, admission, channels,
mediations and removals. Keyword-only, one transaction each, audited (without notes or
reasons: those stay with the coordinators)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from members import services as accounts
from members.models import Division, User
from onboarding import queries, rules
from onboarding.models import (
    Candidate,
    CandidateState,
    Channel,
    ChannelAccess,
    Circle,
    CircleMembership,
    CircleRole,
    Mediation,
    MediationSession,
    Meeting,
    Removal,
    Response,
)
from outbox import services as outbox

logger = logging.getLogger(__name__)

PROCEDURE_FIELDS = ("veto_days", "meetings_required", "veto_blocks", "mediations_before_removal")


def _audit(by: User | None, action: str, obj: Any, summary: str, **data: Any) -> None:
    accounts.record_audit(
        actor=by, action=f"onboarding.{action}", obj=obj, summary=summary, data=data
    )


def _url(name: str, *args: Any) -> str:
    return settings.SITE_URL + reverse(name, args=args)


def _coordinator(by: User, circle: Circle) -> None:
    if not rules.is_coordinator(by, circle):
        raise PermissionDenied


# --- Circles and people -------------------------------------------------------------------


@transaction.atomic
def create_circle(
    *, by: User, name: str, division: Division | None, procedure: Mapping[str, Any]
) -> Circle:
    """Found a circle; its founder is its first coordinator."""
    if not rules.may_found_circles(by):
        raise PermissionDenied
    if division is not None and not rules.founding_divisions(by).filter(pk=division.pk).exists():
        raise PermissionDenied
    circle = Circle(name=name, division=division, **procedure)
    circle.full_clean()
    circle.save()
    CircleMembership.objects.create(
        circle=circle, user=by, role=CircleRole.COORDINATOR, joined_on=timezone.localdate()
    )
    _audit(by, "circle_created", circle, f"Circle {circle} founded")
    return circle


@transaction.atomic
def update_procedure(*, by: User, circle: Circle, values: Mapping[str, Any]) -> Circle:
    _coordinator(by, circle)
    before = {field: getattr(circle, field) for field in PROCEDURE_FIELDS}
    for field, value in values.items():
        if field not in (*PROCEDURE_FIELDS, "description"):
            raise ValidationError(f"Unknown field {field}")
        setattr(circle, field, value)
    circle.full_clean()
    circle.save()
    after = {field: getattr(circle, field) for field in PROCEDURE_FIELDS}
    _audit(
        by,
        "procedure_changed",
        circle,
        f"Procedure of {circle} changed",
        before=before,
        after=after,
    )
    return circle


@transaction.atomic
def add_channel(*, by: User, circle: Circle, name: str, kind: str, link: str = "") -> Channel:
    _coordinator(by, circle)
    channel = Channel(circle=circle, name=name, kind=kind, link=link)
    channel.full_clean()
    channel.save()
    _audit(by, "channel_added", channel, f"Channel {name} added to {circle}")
    return channel


def _existing_account(email: str) -> User | None:
    existing = User.objects.filter(email__iexact=email.strip()).first()
    if existing is not None and not existing.is_active:
        raise ValidationError(
            _("The account for this address is deactivated; ask the federal office.")
        )
    return existing


def _account(*, email: str, first_name: str, last_name: str, by: User | None) -> User:
    """The person's account: the existing one for the address, or a new one (invited)."""
    existing = _existing_account(email)
    if existing is not None:
        return existing
    return accounts.invite_user(email=email, first_name=first_name, last_name=last_name, by=by)


@transaction.atomic
def add_person(
    *,
    by: User,
    circle: Circle,
    email: str,
    first_name: str = "",
    last_name: str = "",
    role: str = CircleRole.MEMBER,
) -> CircleMembership:
    """Coordinators add existing members of the circle (e.g. when it starts using the app)."""
    _coordinator(by, circle)
    user = _account(email=email, first_name=first_name, last_name=last_name, by=by)
    if CircleMembership.objects.active().filter(circle=circle, user=user).exists():
        raise ValidationError(_("This person is in the circle already."))
    membership = CircleMembership.objects.create(
        circle=circle, user=user, role=role, joined_on=timezone.localdate()
    )
    _audit(by, "person_added", membership, f"{user} added to {circle} as {role}")
    return membership


@transaction.atomic
def set_role(*, by: User, membership: CircleMembership, role: str) -> CircleMembership:
    """Coordinators appoint coordinators inside the circle; one must always remain."""
    _lock_circle(membership.circle)
    membership = CircleMembership.objects.select_for_update().get(pk=membership.pk)
    _coordinator(by, membership.circle)
    if role not in CircleRole.values:
        raise ValidationError(_("Unknown role."))
    if membership.role == CircleRole.COORDINATOR and role != CircleRole.COORDINATOR:
        others = (
            CircleMembership.objects.active()
            .filter(circle=membership.circle, role=CircleRole.COORDINATOR)
            .exclude(pk=membership.pk)
        )
        if not others.exists():
            raise ValidationError(_("A circle needs at least one coordinator."))
    membership.role = role
    membership.save(update_fields=["role"])
    _audit(
        by, "role_changed", membership, f"{membership.user} is now {role} of {membership.circle}"
    )
    return membership


# --- Candidates -----------------------------------------------------------------------


CANDIDATE_FIELDS = ("first_name", "last_name", "email", "phone", "found_via", "notes")


@transaction.atomic
def register_candidate(*, by: User, circle: Circle, values: Mapping[str, Any]) -> Candidate:
    _coordinator(by, circle)
    candidate = Candidate(
        circle=circle,
        registered_by=by,
        **{k: v for k, v in values.items() if k in CANDIDATE_FIELDS},
    )
    candidate.full_clean()
    # Someone with an account is linked now, so that they are never asked about themselves.
    candidate.user = _existing_account(candidate.email)
    if (
        candidate.user is not None
        and CircleMembership.objects.active().filter(circle=circle, user=candidate.user).exists()
    ):
        raise ValidationError(_("This person is in the circle already."))
    candidate.save()
    _audit(by, "candidate_registered", candidate, f"Candidate {candidate} registered in {circle}")
    return candidate


def _lock(candidate: Candidate) -> Candidate:
    return (
        Candidate.objects.select_for_update(of=("self",))
        .select_related("circle")
        .get(pk=candidate.pk)
    )


def _set_state(candidate: Candidate, state: str, by: User | None, **fields: Any) -> None:
    before = candidate.state
    candidate.state = state
    for name, value in fields.items():
        setattr(candidate, name, value)
    candidate.save()
    _audit(
        by,
        "candidate_state",
        candidate,
        f"Candidate {candidate}: {before} → {state}",
        before=before,
        after=state,
    )


@transaction.atomic
def record_meeting(
    *, by: User, candidate: Candidate, held_on: date, met_by: str, note: str = ""
) -> Meeting:
    candidate = _lock(candidate)
    _coordinator(by, candidate.circle)
    if candidate.state not in (CandidateState.NEW, CandidateState.GETTING_TO_KNOW):
        raise ValidationError(_("Meetings are recorded while getting to know someone."))
    if held_on > timezone.localdate():
        raise ValidationError(_("Record a meeting once it has taken place."))
    meeting = Meeting(
        candidate=candidate, held_on=held_on, met_by=met_by, note=note, recorded_by=by
    )
    meeting.full_clean()
    meeting.save()
    _audit(by, "meeting_recorded", candidate, f"Get-to-know meeting with {candidate} on {held_on}")
    if candidate.state == CandidateState.NEW:
        _set_state(candidate, CandidateState.GETTING_TO_KNOW, by)
    return meeting


def may_open_veto_period(candidate: Candidate) -> bool:
    return (
        candidate.state == CandidateState.GETTING_TO_KNOW
        and candidate.meetings.count() >= candidate.circle.meetings_required
    )


def _open_period(candidate: Candidate, by: User, today: date) -> None:
    ends_on = today + timedelta(days=candidate.circle.veto_days - 1)
    _set_state(
        candidate, CandidateState.VETO_PERIOD, by, veto_opened_on=today, veto_ends_on=ends_on
    )
    people = (
        CircleMembership.objects.active()
        .filter(circle=candidate.circle, user__is_active=True)
        .exclude(user_id=candidate.user_id)
        .select_related("user")
    )
    url = _url("onboarding:candidate_answer", candidate.pk)
    for membership in people:
        outbox.send_templated(
            name="onboarding_veto_period",
            to=[membership.user.email],
            context={"candidate": candidate, "url": url, "person": membership.user},
        )


@transaction.atomic
def open_veto_period(*, by: User, candidate: Candidate, today: date | None = None) -> Candidate:
    """Every circle member is told, with a link; the period runs `veto_days` days from today."""
    candidate = _lock(candidate)
    _coordinator(by, candidate.circle)
    if candidate.state != CandidateState.GETTING_TO_KNOW:
        raise ValidationError(_("A veto period opens after getting to know the candidate."))
    if not may_open_veto_period(candidate):
        raise ValidationError(
            _("The procedure asks for %(n)d get-to-know meetings first.")
            % {"n": candidate.circle.meetings_required}
        )
    _open_period(candidate, by, today or timezone.localdate())
    return candidate


def standing_vetoes(candidate: Candidate) -> Any:
    return Response.objects.filter(
        candidate=candidate, period_opened_on=candidate.veto_opened_on, veto=True
    )


@transaction.atomic
def answer(
    *, by: User, candidate: Candidate, veto: bool, reason: str = "", today: date | None = None
) -> Response:
    """A circle member's answer: no objection, or a veto with a reason; changeable (a veto
    withdrawn) until the last day of the period."""
    candidate = _lock(candidate)
    today = today or timezone.localdate()
    if not rules.is_member(by, candidate.circle) or by.pk == candidate.user_id:
        raise PermissionDenied
    if candidate.state != CandidateState.VETO_PERIOD or candidate.veto_ends_on is None:
        raise ValidationError(_("There is no open veto period for this person."))
    if today > candidate.veto_ends_on:
        raise ValidationError(_("The veto period has ended."))
    reason = reason.strip()
    if veto and not reason:
        raise ValidationError(_("Please give a reason for your veto."))
    previous = Response.objects.filter(
        candidate=candidate, member=by, period_opened_on=candidate.veto_opened_on
    ).first()
    response, _created = Response.objects.update_or_create(
        candidate=candidate,
        member=by,
        period_opened_on=candidate.veto_opened_on,
        defaults={"veto": veto, "reason": reason if veto else "", "answered_at": timezone.now()},
    )
    if veto:
        action, summary = "veto_raised", f"Veto on {candidate} raised"
    elif previous is not None and previous.veto:
        action, summary = "veto_withdrawn", f"Veto on {candidate} withdrawn"
    else:
        action, summary = "no_objection", f"No objection to {candidate}"
    _audit(by, action, candidate, summary)  # the reason stays with the coordinators
    return response


def _coordinator_emails(circle: Circle) -> list[str]:
    return sorted(
        CircleMembership.objects.active()
        .filter(circle=circle, role=CircleRole.COORDINATOR, user__is_active=True)
        .values_list("user__email", flat=True)
    )


def _admit(candidate: Candidate, by: User | None, today: date) -> None:
    circle = candidate.circle
    user = candidate.user or _account(
        email=candidate.email,
        first_name=candidate.first_name,
        last_name=candidate.last_name,
        by=by,
    )
    if not CircleMembership.objects.active().filter(circle=circle, user=user).exists():
        CircleMembership.objects.create(
            circle=circle, user=user, role=CircleRole.MEMBER, joined_on=today
        )
    has = channel_state(circle, user)
    channels = [c for c in circle.channels.filter(active=True) if has.get(c.pk) != "grant"]
    for channel in channels:
        ChannelAccess.objects.get_or_create(
            channel=channel, user=user, action=ChannelAccess.Action.GRANT, done_at=None
        )
    _set_state(candidate, CandidateState.ADMITTED, by, admitted_on=today, user=user)
    checklist = _url("onboarding:channel_work", circle.pk)
    for email in _coordinator_emails(circle):
        outbox.send_templated(
            name="onboarding_admitted",
            to=[email],
            context={"candidate": candidate, "channels": channels, "url": checklist},
        )
    outbox.send_templated(
        name="onboarding_welcome",
        to=[candidate.email],
        context={"candidate": candidate, "circle": circle, "site_url": settings.SITE_URL},
    )


def admit_due(today: date | None = None) -> dict[str, int]:
    """The daily job: veto periods that ended yesterday or earlier. Without a standing veto
    the candidate is admitted; with one the case goes to the coordinators. Running it again
    changes nothing: each candidate is locked and its state checked first."""
    today = today or timezone.localdate()
    done = {"admitted": 0, "vetoed": 0}
    due = Candidate.objects.filter(
        state=CandidateState.VETO_PERIOD, veto_ends_on__lt=today
    ).values_list("pk", flat=True)
    for pk in list(due):
        try:
            with transaction.atomic():
                _admit_or_refer(pk, today, done)
        except Exception:  # one broken case must not hold up the others
            logger.exception("Admission of candidate %s failed; tried again tomorrow", pk)
    return done


def _admit_or_refer(pk: int, today: date, done: dict[str, int]) -> None:
    """One candidate, locked (another run holding it is skipped) and checked again."""
    candidate = (
        Candidate.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("circle")
        .filter(pk=pk, state=CandidateState.VETO_PERIOD, veto_ends_on__lt=today)
        .first()
    )
    if candidate is None:
        return
    if standing_vetoes(candidate).exists():
        _set_state(candidate, CandidateState.VETOED, None)
        url = _url("onboarding:candidate_detail", candidate.pk)
        for email in _coordinator_emails(candidate.circle):
            outbox.send_templated(
                name="onboarding_vetoed",
                to=[email],
                context={"candidate": candidate, "url": url},
            )
        done["vetoed"] += 1
    else:
        _admit(candidate, None, today)
        done["admitted"] += 1


class Decision:
    DECLINE = "decline"
    REOPEN = "reopen"
    ADMIT = "admit"


@transaction.atomic
def decide_after_veto(
    *, by: User, candidate: Candidate, decision: str, today: date | None = None
) -> Candidate:
    """The coordinators' outcome after a veto: decline, or resolved and a new veto period;
    where a veto does not block, they may admit after the discussion."""
    candidate = _lock(candidate)
    _coordinator(by, candidate.circle)
    today = today or timezone.localdate()
    if candidate.state != CandidateState.VETOED:
        raise ValidationError(_("Only a vetoed candidate waits for this decision."))
    if decision == Decision.DECLINE:
        _set_state(candidate, CandidateState.DECLINED, by)
    elif decision == Decision.REOPEN:
        if candidate.veto_opened_on == today:
            raise ValidationError(_("A new veto period can open tomorrow at the earliest."))
        _open_period(candidate, by, today)
    elif decision == Decision.ADMIT:
        if candidate.circle.veto_blocks:
            raise ValidationError(_("In this circle a single veto blocks admission."))
        _admit(candidate, by, today)
    else:
        raise ValidationError(_("Unknown decision."))
    return candidate


@transaction.atomic
def close_candidate(*, by: User, candidate: Candidate, state: str) -> Candidate:
    """The candidate withdrew, or the coordinators declined before a veto period ended."""
    candidate = _lock(candidate)
    _coordinator(by, candidate.circle)
    if state not in (CandidateState.WITHDRAWN, CandidateState.DECLINED):
        raise ValidationError(_("Unknown state."))
    if candidate.state not in (
        CandidateState.NEW,
        CandidateState.GETTING_TO_KNOW,
        CandidateState.VETO_PERIOD,
        CandidateState.VETOED,
    ):
        raise ValidationError(_("This candidate's case is closed."))
    _set_state(candidate, state, by)
    return candidate


# --- Channels ---------------------------------------------------------------------------


@transaction.atomic
def mark_done(*, by: User, task: ChannelAccess) -> ChannelAccess:
    task = (
        ChannelAccess.objects.select_for_update().select_related("channel__circle").get(pk=task.pk)
    )
    _coordinator(by, task.channel.circle)
    if task.done_at is None:
        task.done_at = timezone.now()
        task.done_by = by
        task.save(update_fields=["done_at", "done_by"])
        _audit(
            by,
            f"channel_{task.action}",
            task,
            f"{task.get_action_display()}: {task.channel} for {task.user}",
        )
    return task


def channel_state(circle: Circle, user: User) -> dict[int, str]:
    """Per channel the person's last completed action ('grant' or 'revoke')."""
    state: dict[int, str] = {}
    for channel_id, action in (
        ChannelAccess.objects.filter(channel__circle=circle, user=user, done_at__isnull=False)
        .order_by("done_at", "pk")
        .values_list("channel_id", "action")
    ):
        state[channel_id] = action
    return state


# --- Mediation and removal ----------------------------------------------------------------


@transaction.atomic
def open_mediation(
    *,
    by: User,
    circle: Circle,
    subject: str,
    parties: Iterable[User],
    mediators: Iterable[User],
) -> Mediation:
    _coordinator(by, circle)
    parties, mediators = list(parties), list(mediators)
    members = set(
        CircleMembership.objects.active().filter(circle=circle).values_list("user_id", flat=True)
    )
    if len(parties) < 1 or any(p.pk not in members for p in parties):
        raise ValidationError(_("A mediation is between people of the circle."))
    if not mediators or {m.pk for m in mediators} & {p.pk for p in parties}:
        raise ValidationError(_("Mediators must not be people in the conflict."))
    mediation = Mediation.objects.create(circle=circle, subject=subject, opened_by=by)
    mediation.parties.set(parties)
    mediation.mediators.set(mediators)
    _audit(by, "mediation_opened", mediation, f"Mediation opened in {circle}")
    return mediation


@transaction.atomic
def record_session(
    *,
    by: User,
    mediation: Mediation,
    held_on: date,
    outcome: str,
    mediated_by: str = "",
    notes: str = "",
) -> MediationSession:
    if not rules.mediations_visible_to(by).filter(pk=mediation.pk).exists():
        raise PermissionDenied  # coordinators and its mediators only
    if mediation.closed_at is not None:
        raise ValidationError(_("This mediation is closed."))
    session = MediationSession(
        mediation=mediation,
        held_on=held_on,
        outcome=outcome,
        mediated_by=mediated_by or ", ".join(str(m) for m in mediation.mediators.all()),
        notes=notes,
        recorded_by=by,
    )
    session.full_clean()
    session.save()
    if outcome == MediationSession.Outcome.RESOLVED:
        mediation.closed_at = timezone.now()
        mediation.save(update_fields=["closed_at"])
    _audit(by, "mediation_session", mediation, f"Mediation session on {held_on}: {outcome}")
    return session


def _lock_circle(circle: Circle) -> Circle:
    """Changes to who coordinates are serialised per circle."""
    return Circle.objects.select_for_update().get(pk=circle.pk)


@transaction.atomic
def decide_removal(
    *, by: User, circle: Circle, user: User, reason: str, today: date | None = None
) -> Removal:
    """Only after the procedure's number of failed mediations, and not by someone in the
    conflict. Ends the membership and creates a revocation for every channel of the circle
    the person may have (everything not revoked already)."""
    circle = _lock_circle(circle)
    _coordinator(by, circle)
    today = today or timezone.localdate()
    if not reason.strip():
        raise ValidationError(_("Please give the reason for the decision."))
    if (
        by.pk == user.pk
        or Mediation.objects.filter(circle=circle, parties=user).filter(parties=by).exists()
    ):
        raise ValidationError(_("Someone in the conflict cannot decide the removal."))
    if not queries.may_remove(circle, user):
        raise ValidationError(
            _("A removal may be decided after %(n)d failed mediations.")
            % {"n": circle.mediations_before_removal}
        )
    membership = (
        CircleMembership.objects.active()
        .select_for_update()
        .filter(circle=circle, user=user)
        .first()
    )
    if membership is None:
        raise ValidationError(_("This person is not in the circle."))
    removal = Removal.objects.create(
        circle=circle, user=user, reason=reason, decided_by=by, decided_on=today
    )
    membership.ended_on = today
    membership.removed = True
    membership.save(update_fields=["ended_on", "removed"])
    dropped = ChannelAccess.objects.filter(
        channel__circle=circle, user=user, action=ChannelAccess.Action.GRANT, done_at__isnull=True
    ).delete()[0]
    # People added before the app knew their channels have no grant on record: every
    # channel whose last recorded action is not a revocation gets one.
    state = channel_state(circle, user)
    revoke = [c for c in circle.channels.all() if state.get(c.pk) != "revoke"]
    for channel in revoke:
        ChannelAccess.objects.get_or_create(
            channel=channel, user=user, action=ChannelAccess.Action.REVOKE, done_at=None
        )
    _audit(
        by,
        "removal",
        removal,
        f"{user} removed from {circle} after failed mediations",
        revocations=len(revoke),
        dropped_grants=dropped,
    )
    return removal


def pending_tasks(circle: Circle) -> Any:
    return (
        ChannelAccess.objects.filter(channel__circle=circle, done_at__isnull=True)
        .select_related("channel", "user")
        .order_by("action", "requested_at", "pk")
    )


def open_candidates(circle: Circle) -> Any:
    return circle.candidates.filter(
        ~Q(state__in=[CandidateState.ADMITTED, CandidateState.DECLINED, CandidateState.WITHDRAWN])
    )
