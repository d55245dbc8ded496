"""Screens under /onboarding/: coordinators run the procedure, members answer veto periods."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from members.models import User
from onboarding import queries, rules, services
from onboarding.forms import (
    AnswerForm,
    CandidateForm,
    ChannelForm,
    CircleForm,
    MediationForm,
    MeetingForm,
    PersonForm,
    ProcedureForm,
    RemovalForm,
    SessionForm,
)
from onboarding.models import (
    Candidate,
    CandidateState,
    ChannelAccess,
    CircleMembership,
    Response,
)

PIPELINE = [
    CandidateState.NEW,
    CandidateState.GETTING_TO_KNOW,
    CandidateState.VETO_PERIOD,
    CandidateState.VETOED,
]


def _error(request: HttpRequest, error: ValidationError) -> None:
    messages.error(request, " ".join(error.messages))


@login_required
def index(request: HttpRequest) -> HttpResponse:
    user = request.user
    coordinated = rules.coordinated_circles(user).annotate(
        open_candidates=Count(
            "candidates", filter=Q(candidates__state__in=PIPELINE), distinct=True
        ),
    )
    mine = rules.member_circles(user)
    open_periods = list(
        Candidate.objects.filter(circle__in=mine, state=CandidateState.VETO_PERIOD)
        .exclude(user=user)
        .select_related("circle")
        .order_by("veto_ends_on", "pk")
    )
    # The user's answers in the current round of each open period.
    answers = {
        (r.candidate_id, r.period_opened_on): r
        for r in Response.objects.filter(member=user, candidate__in=open_periods)
    }
    periods = [(c, answers.get((c.pk, c.veto_opened_on))) for c in open_periods]
    mediating = (
        rules.mediations_visible_to(user)
        .filter(mediators=user, closed_at__isnull=True)
        .select_related("circle")
    )
    return render(
        request,
        "onboarding/index.html",
        {
            "coordinated": coordinated,
            "member_of": mine.exclude(pk__in=coordinated.values("pk")),
            "periods": periods,
            "mediating": mediating,
            "may_found": rules.may_found_circles(user),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def circle_new(request: HttpRequest) -> HttpResponse:
    if not rules.may_found_circles(request.user):
        raise Http404
    form = CircleForm(request.POST or None, divisions=rules.founding_divisions(request.user))
    if form.is_valid():
        data = form.cleaned_data
        try:
            circle = services.create_circle(
                by=request.user,
                name=data["name"],
                division=data["division"],
                procedure={f: data[f] for f in (*services.PROCEDURE_FIELDS, "description")},
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Circle founded. Add its channels and people next."))
            return redirect("onboarding:circle_settings", pk=circle.pk)
    return render(request, "onboarding/circle_new.html", {"form": form})


@login_required
def circle_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The coordinators' board: candidates by state, deadlines, channel work, mediations."""
    circle = rules.circle_for_coordinator(request.user, pk)
    candidates = list(
        circle.candidates.filter(state__in=PIPELINE)
        .annotate(meeting_count=Count("meetings"))
        .order_by("veto_ends_on", "created_at")
    )
    columns = [
        (state, CandidateState(state).label, [c for c in candidates if c.state == state])
        for state in PIPELINE
    ]
    closed = circle.candidates.exclude(state__in=PIPELINE).order_by("-updated_at")[:20]
    return render(
        request,
        "onboarding/circle_detail.html",
        {
            "circle": circle,
            "columns": columns,
            "closed": closed,
            "pending": services.pending_tasks(circle).count(),
            "mediations": circle.mediations.annotate(
                session_count=Count("sessions")
            ).prefetch_related("parties")[:20],
            "today": timezone.localdate(),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def circle_settings(request: HttpRequest, pk: int) -> HttpResponse:
    circle = rules.circle_for_coordinator(request.user, pk)
    is_channel = request.POST.get("form") == "channel"
    form = ProcedureForm(
        request.POST if request.method == "POST" and not is_channel else None, instance=circle
    )
    channel_form = ChannelForm(request.POST if is_channel else None)
    if request.method == "POST":
        try:
            if is_channel and channel_form.is_valid():
                services.add_channel(by=request.user, circle=circle, **channel_form.cleaned_data)
                messages.success(request, _("Channel added."))
                return redirect("onboarding:circle_settings", pk=circle.pk)
            if not is_channel and form.is_valid():
                services.update_procedure(by=request.user, circle=circle, values=form.cleaned_data)
                messages.success(request, _("Procedure saved."))
                return redirect("onboarding:circle_settings", pk=circle.pk)
        except ValidationError as error:
            _error(request, error)
    return render(
        request,
        "onboarding/circle_settings.html",
        {
            "circle": circle,
            "form": form,
            "channel_form": channel_form,
            "channels": circle.channels.all(),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def circle_people(request: HttpRequest, pk: int) -> HttpResponse:
    circle = rules.circle_for_coordinator(request.user, pk)
    form = PersonForm(request.POST or None)
    if form.is_valid():
        try:
            services.add_person(by=request.user, circle=circle, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Added to the circle."))
            return redirect("onboarding:circle_people", pk=circle.pk)
    people = (
        CircleMembership.objects.active()
        .filter(circle=circle)
        .select_related("user")
        .order_by("role", "user__last_name", "user__email")
    )
    failed = queries.failed_mediations_by_person(circle)
    counted = [(m, failed.get(m.user_id, 0)) for m in people]
    rows = [(m, n, queries.removal_allowed(circle, n)) for m, n in counted]
    return render(
        request,
        "onboarding/circle_people.html",
        {"circle": circle, "rows": rows, "form": form},
    )


@login_required
@require_http_methods(["GET", "POST"])
def membership_role(request: HttpRequest, pk: int) -> HttpResponse:
    membership = (
        CircleMembership.objects.active()
        .filter(pk=pk, circle__in=rules.coordinated_circles(request.user))
        .first()
    )
    if membership is None:
        raise Http404
    if request.method == "POST":
        try:
            services.set_role(by=request.user, membership=membership, role=request.POST["role"])
        except (ValidationError, KeyError) as error:
            messages.error(request, " ".join(getattr(error, "messages", [_("Unknown role.")])))
        else:
            messages.success(request, _("Role changed."))
    return redirect("onboarding:circle_people", pk=membership.circle_id)


@login_required
@require_http_methods(["GET", "POST"])
def candidate_new(request: HttpRequest, pk: int) -> HttpResponse:
    circle = rules.circle_for_coordinator(request.user, pk)
    form = CandidateForm(request.POST or None)
    if form.is_valid():
        candidate = services.register_candidate(
            by=request.user, circle=circle, values=form.cleaned_data
        )
        messages.success(request, _("Candidate registered."))
        return redirect("onboarding:candidate_detail", pk=candidate.pk)
    return render(request, "onboarding/candidate_new.html", {"circle": circle, "form": form})


@login_required
@require_http_methods(["GET", "POST"])
def candidate_detail(request: HttpRequest, pk: int) -> HttpResponse:
    candidate = rules.candidate_for_coordinator(request.user, pk)
    meeting_form = MeetingForm(request.POST if request.POST.get("action") == "meeting" else None)
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "meeting":
                if meeting_form.is_valid():
                    services.record_meeting(
                        by=request.user, candidate=candidate, **meeting_form.cleaned_data
                    )
                    messages.success(request, _("Meeting recorded."))
                    return redirect("onboarding:candidate_detail", pk=candidate.pk)
            elif action == "open":
                services.open_veto_period(by=request.user, candidate=candidate)
                messages.success(request, _("Veto period opened: every circle member was told."))
                return redirect("onboarding:candidate_detail", pk=candidate.pk)
            elif action in ("decline", "reopen", "admit"):
                services.decide_after_veto(by=request.user, candidate=candidate, decision=action)
                messages.success(request, _("Decision recorded."))
                return redirect("onboarding:candidate_detail", pk=candidate.pk)
            elif action in ("withdrawn", "declined"):
                services.close_candidate(by=request.user, candidate=candidate, state=action)
                messages.success(request, _("The case is closed."))
                return redirect("onboarding:candidate_detail", pk=candidate.pk)
        except ValidationError as error:
            _error(request, error)
    candidate.refresh_from_db()
    responses = (
        candidate.responses.filter(period_opened_on=candidate.veto_opened_on)
        .select_related("member")
        .order_by("-veto", "answered_at")
        if candidate.veto_opened_on
        else []
    )
    circle = candidate.circle
    return render(
        request,
        "onboarding/candidate_detail.html",
        {
            "candidate": candidate,
            "circle": circle,
            "meetings": candidate.meetings.all(),
            "meeting_form": meeting_form,
            "responses": responses,
            "may_open": services.may_open_veto_period(candidate),
            "members_count": CircleMembership.objects.active().filter(circle=circle).count(),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def candidate_answer(request: HttpRequest, pk: int) -> HttpResponse:
    """A circle member's page for one veto period: no objection, veto, or withdraw a veto."""
    candidate = rules.candidate_for_member(request.user, pk)
    form = AnswerForm(request.POST or None)
    choice = request.POST.get("choice")
    if request.method == "POST" and form.is_valid():
        try:
            if choice not in ("none", "veto", "withdraw"):
                raise ValidationError(_("Choose: no objection, or a veto."))
            services.answer(
                by=request.user,
                candidate=candidate,
                veto=choice == "veto",
                reason=form.cleaned_data["reason"] if choice == "veto" else "",
            )
        except ValidationError as error:
            form.add_error("reason" if choice == "veto" else None, error)
        else:
            messages.success(
                request,
                {
                    "veto": _("Your veto is recorded. Only the coordinators read the reason."),
                    "withdraw": _("Your veto is withdrawn."),
                }.get(choice or "", _("Thank you: no objection recorded.")),
            )
            return redirect("onboarding:candidate_answer", pk=candidate.pk)
    mine = Response.objects.filter(
        candidate=candidate, member=request.user, period_opened_on=candidate.veto_opened_on
    ).first()
    return render(
        request,
        "onboarding/candidate_answer.html",
        {
            "candidate": candidate,
            "mine": mine,
            "form": form,
            "open": candidate.state == CandidateState.VETO_PERIOD
            and timezone.localdate() <= candidate.veto_ends_on,
        },
    )


@login_required
def channel_work(request: HttpRequest, pk: int) -> HttpResponse:
    circle = rules.circle_for_coordinator(request.user, pk)
    done = (
        ChannelAccess.objects.filter(channel__circle=circle, done_at__isnull=False)
        .select_related("channel", "user", "done_by")
        .order_by("-done_at")[:50]
    )
    return render(
        request,
        "onboarding/channel_work.html",
        {"circle": circle, "pending": services.pending_tasks(circle), "done": done},
    )


@login_required
@require_http_methods(["GET", "POST"])
def access_done(request: HttpRequest, pk: int) -> HttpResponse:
    task = (
        ChannelAccess.objects.select_related("channel")
        .filter(pk=pk, channel__circle__in=rules.coordinated_circles(request.user))
        .first()
    )
    if task is None:
        raise Http404
    if request.method == "POST":
        services.mark_done(by=request.user, task=task)
        messages.success(request, _("Ticked off."))
    return redirect("onboarding:channel_work", pk=task.channel.circle_id)


def _people(circle: Any) -> Any:
    return User.objects.filter(
        pk__in=CircleMembership.objects.active().filter(circle=circle).values("user")
    ).order_by("last_name", "first_name", "email")


@login_required
@require_http_methods(["GET", "POST"])
def mediation_new(request: HttpRequest, pk: int) -> HttpResponse:
    circle = rules.circle_for_coordinator(request.user, pk)
    form = MediationForm(request.POST or None, people=_people(circle))
    if form.is_valid():
        try:
            mediation = services.open_mediation(by=request.user, circle=circle, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Mediation opened."))
            return redirect("onboarding:mediation_detail", pk=mediation.pk)
    return render(request, "onboarding/mediation_new.html", {"circle": circle, "form": form})


@login_required
@require_http_methods(["GET", "POST"])
def mediation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Sessions with their confidential notes: the circle's coordinators and the mediators."""
    mediation = rules.mediation_for(request.user, pk)
    form = SessionForm(request.POST or None)
    if form.is_valid():
        try:
            services.record_session(by=request.user, mediation=mediation, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Session recorded."))
            return redirect("onboarding:mediation_detail", pk=mediation.pk)
    circle = mediation.circle
    parties = list(mediation.parties.all())
    failed = queries.failed_mediations_by_person(circle)
    counted = [(p, failed.get(p.pk, 0)) for p in parties]
    coordinator = rules.is_coordinator(request.user, circle)
    return render(
        request,
        "onboarding/mediation_detail.html",
        {
            "mediation": mediation,
            "circle": circle,
            "parties": [(p, n, queries.removal_allowed(circle, n)) for p, n in counted],
            "mediators": mediation.mediators.all(),
            "sessions": mediation.sessions.all(),
            "form": form,
            "coordinator": coordinator,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def removal_new(request: HttpRequest, pk: int, user_pk: int) -> HttpResponse:
    circle = rules.circle_for_coordinator(request.user, pk)
    membership = (
        CircleMembership.objects.active()
        .filter(circle=circle, user_id=user_pk)
        .select_related("user")
        .first()
    )
    if membership is None:
        raise Http404
    person = membership.user
    form = RemovalForm(request.POST or None)
    if form.is_valid():
        try:
            services.decide_removal(
                by=request.user, circle=circle, user=person, reason=form.cleaned_data["reason"]
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Removal recorded; the channel revocations are listed."))
            return redirect("onboarding:channel_work", pk=circle.pk)
    return render(
        request,
        "onboarding/removal_new.html",
        {
            "circle": circle,
            "person": person,
            "form": form,
            "failed": queries.failed_mediations(circle, person),
            "allowed": queries.may_remove(circle, person),
        },
    )
