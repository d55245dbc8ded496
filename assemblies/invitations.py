"""The invitation: an official mailing to the eligible members of the frozen list, and a
letter for each of them without a usable e-mail address."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from assemblies import services
from assemblies.models import Assembly, Entry
from finance import letters  # the DIN 5008 letter layout (see the note in the module's docstring)
from mailings import services as mailings
from mailings.models import Mailing
from members import access
from members.access import Action
from members.models import Division, Member, User
from members.services import record_audit

AUDIENCE = "assembly"


def eligible_members(division: Division, assembly_id: Any) -> Q:
    """The mailing audience of an invitation: the eligible on the assembly's frozen list."""
    entries = Entry.objects.filter(
        assembly_id=int(assembly_id), assembly__division=division, reason=""
    )
    return Q(pk__in=entries.values("member_id"))


def _when(assembly: Assembly) -> str:
    return formats.date_format(timezone.localtime(assembly.starts_at), "DATETIME_FORMAT")


def _where(assembly: Assembly) -> str:
    if assembly.online and assembly.place:
        return _("online and at %(place)s") % {"place": assembly.place}
    return _("online") if assembly.online else assembly.place


def texts(assembly: Assembly) -> tuple[str, str]:
    """Subject and Markdown body, in the site's language, with the personal voting notice."""
    with translation.override(settings.LANGUAGE_CODE):
        subject = _("Invitation: %(title)s") % {"title": assembly.title}
        parts = [
            _("Hello {{ vorname }},"),
            _("%(division)s invites you to: **%(title)s**.")
            % {"title": assembly.title, "division": assembly.division.name},
            f"- {_('When')}: {_when(assembly)}\n- {_('Where')}: {_where(assembly)}",
        ]
        if assembly.agenda.strip():
            parts += [f"**{_('Agenda')}**", assembly.agenda.strip()]
        parts.append(
            _(
                "**Your vote:** on the cut-off date, %(cutoff)s, you are entitled to vote "
                "(membership number {{ mitgliedsnummer }}, {{ gliederung }}). Please bring "
                "this invitation or an identity document to the check-in."
            )
            % {"cutoff": formats.date_format(assembly.cutoff_on, "DATE_FORMAT")}
        )
        return subject, "\n\n".join(parts)


def by_letter(assembly: Assembly, user: User) -> QuerySet[Member]:
    """The eligible members the mailing does not reach (no address, or one that bounced):
    they get the letter."""
    reached = mailings.recipients(
        assembly.division, Mailing.Kind.OFFICIAL, {AUDIENCE: assembly.pk}, user
    )
    eligible = Entry.objects.filter(assembly=assembly, reason="").values("member_id")
    members = access.scope_members(Member.objects.current(), user, Action.VIEW_MEMBERS)
    return (
        members.filter(pk__in=eligible)
        .exclude(pk__in=reached.values("pk"))
        .order_by("postal_code", "last_name", "first_name", "pk")
    )


@transaction.atomic
def invite(*, assembly: Assembly, by: User) -> Mailing:
    """Freeze the list, write the invitation and send it (or ask for its release where the
    division wants a second board member); record when it went out."""
    assembly = Assembly.objects.select_for_update().select_related("division").get(pk=assembly.pk)
    if assembly.invited_at is not None:
        raise ValidationError(_("The invitation has already gone out."))
    services.freeze(assembly=assembly, by=by)
    subject, body = texts(assembly)
    mailing = mailings.create_mailing(
        by=by,
        division=assembly.division,
        values={
            "kind": Mailing.Kind.OFFICIAL,
            "sender_name": assembly.division.name[:100],
            "reply_to": by.email,
            "subject": subject[:200],
            "body": body,
            "audience": {AUDIENCE: assembly.pk},
        },
    )
    mailing = mailings.request_sending(by=by, mailing=mailing)
    assembly.invitation = mailing
    assembly.invited_at = timezone.now()
    assembly.save(update_fields=["invitation", "invited_at"])
    late = assembly.invitation_deadline < timezone.localdate()
    record_audit(
        actor=by,
        action="assembly.invite",
        obj=assembly,
        division=assembly.division,
        summary=f"Invitation to {assembly.title} sent"
        + (f" after the deadline {assembly.invitation_deadline}" if late else ""),
        data={"mailing": mailing.pk, "late": late},
    )
    return mailing


def letters_pdf(assembly: Assembly, user: User) -> bytes:
    """One DIN 5008 letter per eligible member without a usable e-mail address."""
    subject, _body = texts(assembly)
    with translation.override(settings.LANGUAGE_CODE):
        # The division invites: its name on the return line and under the letter.
        sender = signature = assembly.division.name
        pages = [
            letters.Letter(
                address=letters.address_lines(member),
                info=[
                    (_("Membership number"), str(member.membership_number)),
                    (_("Date"), letters.short_date(timezone.localdate())),
                ],
                subject=subject,
                greeting=_("Hello %(name)s,") % {"name": member.first_name},
                intro=[
                    _("%(division)s invites you to: %(title)s.")
                    % {"title": assembly.title, "division": assembly.division.name}
                ],
                table=[
                    (_("When"), _when(assembly)),
                    (_("Where"), _where(assembly)),
                    (_("Cut-off date"), letters.short_date(assembly.cutoff_on)),
                ],
                outro=[
                    *(
                        [
                            _("Agenda:")
                            + " "
                            + " · ".join(
                                line.strip()
                                for line in assembly.agenda.splitlines()
                                if line.strip()
                            )
                        ]
                        if assembly.agenda.strip()
                        else []
                    ),
                    _(
                        "On the cut-off date you are entitled to vote. Please bring this "
                        "letter or an identity document to the check-in."
                    ),
                ],
                closing=[_("Kind regards"), signature],
            )
            for member in by_letter(assembly, user).iterator(chunk_size=2000)
        ]
        return letters.render(pages, sender=sender, title=subject)
