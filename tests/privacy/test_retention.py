"""Retention with notice: told first, anonymised after the notice period, never a current
member, one who owes, one with something running or under a hold; the dry run writes
nothing; a second run changes nothing; the federal office confirms what it previewed."""

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.apps import apps
from django.contrib.admin.models import CHANGE, LogEntry
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import CharField, JSONField, TextField
from django.urls import reverse
from django.utils import timezone

from finance.models import Payment
from mailings.models import Delivery, Mailing, Suppression
from members import imports, services
from members.models import (
    AuditEntry,
    ImportBatch,
    Member,
    MemberVersion,
    RequestKind,
    RoleAssignment,
    User,
)
from onboarding.models import Candidate, Circle
from outbox import services as outbox
from outbox.models import OutboundEmail
from privacy import retention
from privacy.models import ErasureLog, LegalHold, RetentionNotice
from tests.factories import make_member

pytestmark = pytest.mark.django_db
LEFT = date(2024, 3, 31)
TOLD = date(2025, 10, 1)  # 18 months after leaving: six months before the two years are up
DUE = date(2026, 4, 1)
BERLIN = ZoneInfo("Europe/Berlin")


def ended(division, **values):
    member = make_member(division, joined_on=date(2020, 1, 1), **values)
    return services.end_membership(by=None, member=member, on=LEFT, reason="exit", note="Austritt")


@pytest.fixture
def former(tree):
    return ended(tree.leipzig, first_name="Frieda", last_name="Früher", email="frieda@example.org")


def snapshot():
    return (
        list(Member.objects.order_by("pk").values()),
        list(MemberVersion.objects.order_by("pk").values()),
        RetentionNotice.objects.count(),
        ErasureLog.objects.count(),
        OutboundEmail.objects.count(),
    )


def test_the_dry_run_lists_and_writes_nothing(former, capsys):
    before = snapshot()
    call_command("retention", "--dry-run", "--on", TOLD.isoformat())
    out = capsys.readouterr().out
    assert "Sachsen | jetzt benachrichtigt: 1" in out
    assert snapshot() == before
    plan = retention.plan(date(2025, 3, 1))
    assert plan.empty and plan.coming == {date(2025, 9, 1): 1}


def test_told_first_then_anonymised_after_the_notice_period(former, tree):
    number = former.membership_number
    first = retention.plan(TOLD)
    assert [n.member_id for n in first.notices] == [former.pk] and not first.anonymise
    retention.apply(first)
    notice = RetentionNotice.objects.get(member=former)
    assert (notice.sent_on, notice.due_on, notice.channel) == (TOLD, DUE, "email")
    told = OutboundEmail.objects.get(template="retention_notice")
    assert told.to == ["frieda@example.org"] and "01.04.2026" in told.body_text
    # Told, but the period is not over: nothing happens yet, and nobody is told twice.
    waiting = retention.plan(DUE - timedelta(days=1))
    assert waiting.empty and waiting.waiting == {"2026-04": 1}
    done = retention.apply(retention.plan(DUE))
    assert done.anonymised == 1 and done.told == 0
    former.refresh_from_db()
    assert former.membership_number == number and former.anonymised_on == DUE
    assert (former.first_name, former.last_name, former.email, former.street) == (
        "",
        "anonymisiert",
        "",
        "",
    )
    assert former.division == tree.leipzig and former.left_on == LEFT
    for version in former.versions.all():
        assert not version.values.get("first_name") and not version.values.get("email")
    assert not AuditEntry.objects.filter(summary__contains="Früher").exists()
    assert list(ErasureLog.objects.values_list("number", "done_on", "kind")) == [
        (str(number), DUE, "register")
    ]
    before = snapshot()
    again = retention.apply(retention.plan(DUE))
    assert again == retention.Done() and snapshot() == before


def test_never_current_owing_disputed_or_held(tree, former, federal_admin, board_sn):
    current = make_member(tree.leipzig, last_name="Aktuell")
    owing = ended(tree.leipzig, last_name="Schuldet")
    Member.objects.filter(pk=owing.pk).update(balance=Decimal("-12.00"))
    disputed = ended(tree.leipzig, last_name="Streitet")
    LegalHold.objects.create(
        member=disputed,
        kind="dispute",
        reason="Schiedsgericht",
        placed_by=federal_admin,
        placed_on=LEFT,
    )
    held = ended(tree.dresden, last_name="Gesperrt")
    LegalHold.objects.create(
        member=held, kind="hold", reason="Finanzamt", placed_by=federal_admin, placed_on=LEFT
    )
    plan = retention.plan(TOLD)
    assert {n.member_id for n in plan.notices} == {former.pk}
    assert plan.held_back == {"balance": 1, "dispute": 1, "hold": 1}
    retention.apply(plan)
    retention.apply(retention.plan(DUE))
    kept = Member.objects.filter(anonymised_on__isnull=True)
    assert set(kept) == {current, owing, disputed, held}


def test_a_member_without_an_address_is_told_by_letter_from_the_day_it_is_posted(
    client, tree, federal_admin
):
    member = ended(tree.leipzig, last_name="Briefe", email="")
    bounced = ended(tree.leipzig, last_name="Zurück", email="weg@example.org")
    Suppression.objects.create(email="weg@example.org", reason="bounced")
    retention.apply(retention.plan(TOLD))
    assert not OutboundEmail.objects.filter(template="retention_notice").exists()
    for who in (member, bounced):
        notice = RetentionNotice.objects.get(member=who)
        assert (notice.channel, notice.sent_on, notice.due_on) == ("letter", None, None)
    client.force_login(federal_admin)
    response = client.get(reverse("privacy:retention_letters"))
    text = b"".join(response.streaming_content).decode()
    assert "Briefe" in text and "Zurück" in text
    # Not posted: nobody is anonymised, however long ago they were put on the list.
    assert retention.plan(DUE + timedelta(days=400)).waiting == {"letter": 2}
    posted = date(2025, 11, 3)
    assert retention.letters_posted(on=posted, by=federal_admin) == 2
    assert not retention.letters().exists()
    assert retention.plan(date(2026, 5, 2)).anonymise == []
    assert sorted(retention.plan(date(2026, 5, 3)).anonymise) == sorted([member.pk, bounced.pk])


def test_old_candidates_deliveries_and_emails_go(tree, board_sn, federal_admin):
    circle = Circle.objects.create(name="Utopie25")
    old = Candidate.objects.create(
        circle=circle,
        first_name="Alt",
        last_name="Abgelehnt",
        email="alt@example.org",
        state="declined",
        registered_by=board_sn,
    )
    Candidate.objects.filter(pk=old.pk).update(updated_at=timezone.now() - timedelta(days=200))
    fresh = Candidate.objects.create(
        circle=circle,
        first_name="Neu",
        last_name="Abgelehnt",
        email="neu@example.org",
        state="declined",
        registered_by=board_sn,
    )
    member = make_member(tree.leipzig)
    mailing = Mailing.objects.create(
        division=tree.sn,
        kind="newsletter",
        status="sent",
        sender_name="LV",
        created_by=board_sn,
        reply_to="lv@example.org",
        subject="Alt",
        body="x",
        finished_at=timezone.now() - timedelta(days=400),
    )
    Delivery.objects.create(mailing=mailing, member=member, email=member.email, status="sent")
    sent = OutboundEmail.objects.create(
        to=["x@example.org"], subject="s", body_text="t", status="sent"
    )
    OutboundEmail.objects.filter(pk=sent.pk).update(created_at=timezone.now() - timedelta(days=400))
    upload = imports.create_batch(
        by=board_sn, division=tree.sn, content=b"Vorname;Nachname\nAnna;Alt\n", filename="a.csv"
    )
    ImportBatch.objects.filter(pk=upload.pk).update(
        uploaded_at=timezone.now() - timedelta(days=400), status=ImportBatch.Status.DISCARDED
    )
    today = timezone.localdate()
    plan = retention.plan(today)
    assert plan.candidates == [old.pk] and plan.deliveries == 1 and plan.emails == 1
    assert plan.uploads == 1
    retention.apply(plan)
    upload.refresh_from_db()
    assert bytes(upload.content) == b"" and upload.cells == {} and upload.filename == "a.csv"
    assert list(Candidate.objects.all()) == [fresh]
    delivery = Delivery.objects.get()
    assert (delivery.member, delivery.email, delivery.status) == (None, "", "sent")
    assert not OutboundEmail.objects.filter(pk=sent.pk).exists()
    assert retention.plan(today).empty


def test_the_federal_office_confirms_what_it_previewed(client, former, federal_admin):
    client.force_login(federal_admin)
    url = reverse("privacy:retention")
    with_time = timezone.localdate()
    RetentionNotice.objects.create(
        member=former, sent_on=with_time - timedelta(days=200), due_on=with_time, channel="email"
    )
    page = client.get(url)
    assert "anonymisiert" in page.text and "Sachsen" in page.text
    form = page.context["form"]
    digest, on = form.initial["digest"], form.initial["on"]
    # Meanwhile a second member falls due: the confirmation of the old preview does nothing.
    other = ended(former.division, last_name="Später")
    RetentionNotice.objects.create(
        member=other, sent_on=with_time - timedelta(days=200), due_on=with_time, channel="email"
    )
    stale = client.post(url, {"digest": digest, "on": on, "checked": "on"}, follow=True)
    assert "geändert" in stale.text
    assert not Member.objects.filter(anonymised_on__isnull=False).exists()
    fresh = client.get(url).context["form"].initial["digest"]
    client.post(url, {"digest": fresh, "on": on, "checked": "on"})
    assert Member.objects.filter(anonymised_on__isnull=False).count() == 2


def test_the_monthly_job_tells_and_asks_the_federal_office(former, federal_admin):
    retention.monthly(TOLD)
    assert RetentionNotice.objects.filter(member=former).exists()
    assert not Member.objects.filter(anonymised_on__isnull=False).exists()
    retention.monthly(DUE)
    asked = OutboundEmail.objects.get(template="retention_confirm")
    assert asked.to == [federal_admin.email] and "/privacy/retention/" in asked.body_text
    assert not Member.objects.filter(anonymised_on__isnull=False).exists()


def test_old_finance_records_of_anonymised_members_lose_names_not_amounts(former):
    payment = Payment.objects.create(
        member=former,
        amount=Decimal("60.00"),
        booked_on=date(2015, 5, 1),
        counterparty_name="Frieda Früher",
        counterparty_iban="DE89370400440532013000",
    )
    recent = Payment.objects.create(
        member=former,
        amount=Decimal("60.00"),
        booked_on=date(2020, 5, 1),
        counterparty_name="Frieda Früher",
    )
    Member.objects.filter(pk=former.pk).update(anonymised_on=date(2026, 1, 1))
    plan = retention.plan(date(2026, 6, 1))
    assert plan.finance["payments"] == 1
    retention.apply(plan)
    payment.refresh_from_db()
    recent.refresh_from_db()
    assert (payment.counterparty_name, payment.counterparty_iban, payment.amount) == (
        "",
        "",
        Decimal("60.00"),
    )
    assert recent.counterparty_name == "Frieda Früher"


def text_columns():
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if isinstance(field, CharField | TextField | JSONField):
                yield model, field


# Kept on purpose: bookings and receipts ten years (§147 AO, then retention clears them); an
# address that complained or bounced stays blocked (the objection is honoured).
KEPT = {"finance.Payment.counterparty_name", "mailings.Suppression.email"}


def test_anonymisation_leaves_the_person_nowhere(tree, board_sn, federal_admin):
    """A member's whole life, then retention: no column of any table names them after, but
    the bookings kept for ten years and the blocked address."""
    with time_machine.travel(datetime(2023, 6, 1, 10, tzinfo=BERLIN), tick=False):
        member = make_member(
            tree.leipzig,
            first_name="Quirin",
            last_name="Quast",
            email="quirin@example.org",
            street="Quaststraße 7",
            phone="0341 777",
        )
        services.update_member(
            by=federal_admin, member=member, changes={"city": "Quedlinburg"}, reason="Quirin zog"
        )
        request = services.submit_change_request(
            by=board_sn,
            kind=RequestKind.CONTACT,
            member=member,
            values={"street": "Quaststraße 8"},
        )
        services.reject_change_request(request=request, by=federal_admin, reason="Quast?")
        member.refresh_from_db()
        services.end_membership(by=None, member=member, on=LEFT, reason="exit")
        Payment.objects.create(
            member=member, amount=Decimal(0), booked_on=LEFT, counterparty_name="Quirin Quast"
        )
        Delivery.objects.create(
            mailing=Mailing.objects.create(
                division=tree.sn,
                kind="official",
                status="sent",
                sender_name="LV",
                reply_to="lv@example.org",
                subject="s",
                body="b",
                created_by=board_sn,
                finished_at=timezone.now(),
            ),
            member=member,
            email="quirin@example.org",
            status="sent",
        )
        outbox.queue(to=["Quirin@example.org"], subject="Hallo Quirin", text="Quast")
        other = outbox.queue(to=["quirin@example.org.uk"], subject="someone else", text="x")
        account = User.objects.create_user("quirin@example.org", first_name="Quirin")
        LogEntry.objects.log_actions(
            user_id=federal_admin.pk, queryset=[member], action_flag=CHANGE, change_message="Q"
        )
    for day in (TOLD, DUE):
        with time_machine.travel(datetime.combine(day, time(4), tzinfo=BERLIN), tick=False):
            OutboundEmail.objects.update(status="sent")  # the outbox sent what was queued
            retention.apply(retention.plan(day))
    member.refresh_from_db()
    assert member.anonymised_on == DUE
    left = []
    for model, field in text_columns():
        name = f"{model._meta.label}.{field.name}"
        if name in KEPT:
            continue
        rows = model._default_manager.values_list("pk", field.attname)
        for pk, value in rows:
            if model is OutboundEmail and pk == other.pk:
                continue  # someone else's address that merely starts alike
            if any(w in str(value) for w in ("Quirin", "Quast", "quirin@", "0341 777")):
                left.append((name, str(value)[:80]))
    assert left == [], "\n".join(map(str, left))
    account.refresh_from_db()
    assert not account.is_active


def test_only_their_own_e_mails_go_not_a_family_members_or_a_lookalike(tree):
    alone = ended(tree.leipzig, email="alone@example.org")
    family = ended(tree.leipzig, email="familie@example.org")
    make_member(tree.leipzig, email="Familie@example.org")  # current, same address
    outbox.queue(to=["ALONE@example.org"], subject="a", text="a")
    lookalike = outbox.queue(to=["alone@example.org.uk"], subject="b", text="b")
    shared = outbox.queue(to=["familie@example.org"], subject="c", text="c")
    OutboundEmail.objects.update(status="sent")
    assert retention.anonymise([alone.pk, family.pk], DUE) == 2
    assert set(OutboundEmail.objects.all()) == {lookalike, shared}


@time_machine.travel(datetime(2025, 10, 1, 9, tzinfo=BERLIN), tick=False)
def test_the_command_applies_only_the_plan_it_was_shown(former, capsys):
    call_command("retention")
    digest = capsys.readouterr().out.split("digest ")[1].split()[0]
    other = ended(former.division, last_name="Dazwischen")
    with pytest.raises(CommandError):
        call_command("retention", "--apply", "--digest", digest)
    with pytest.raises(CommandError):  # a run on another day would skip or shorten notices
        call_command("retention", "--apply", "--on", "2026-10-01")
    assert not RetentionNotice.objects.exists()
    call_command("retention", "--apply")
    assert set(RetentionNotice.objects.values_list("member_id", flat=True)) == {
        former.pk,
        other.pk,
    }
    confirmed = AuditEntry.objects.get(action="privacy.retention_confirmed")
    assert confirmed.actor is None and "2 to tell" in confirmed.summary


def test_a_letter_added_after_the_list_was_downloaded_is_not_counted_as_posted(tree):
    first = ended(tree.leipzig, last_name="Erste", email="")
    retention.apply(retention.plan(TOLD))
    assert list(retention.list_letters(TOLD)) == [first]
    later = ended(tree.dresden, last_name="Spätere", email="")
    retention.apply(retention.plan(TOLD))
    retention.letters_posted(on=TOLD, by=None)
    assert RetentionNotice.objects.get(member=first).sent_on == TOLD
    assert RetentionNotice.objects.get(member=later).sent_on is None


def test_a_notice_e_mail_that_bounced_is_owed_again_as_a_letter(former):
    retention.apply(retention.plan(TOLD))
    Suppression.objects.create(email="frieda@example.org", reason="bounced")
    plan = retention.plan(TOLD + timedelta(days=3))
    assert plan.to_letter == [former.pk] and not plan.anonymise
    retention.apply(plan)
    notice = RetentionNotice.objects.get(member=former)
    assert (notice.channel, notice.sent_on, notice.due_on) == ("letter", None, None)
    assert retention.plan(DUE).anonymise == []  # not before the letter went out


def test_a_rejected_entry_request_loses_the_applicants_details(tree, board_sn, federal_admin):
    request = services.submit_change_request(
        by=board_sn,
        kind=RequestKind.ENTRY,
        division=tree.leipzig,
        values={"first_name": "Abgelehnt", "last_name": "Antrag", "street": "Weg 1"},
    )
    services.reject_change_request(request=request, by=federal_admin, reason="doppelt")
    later = timezone.localdate() + timedelta(days=200)
    plan = retention.plan(later)
    assert plan.entries == 1
    retention.apply(plan)
    request.refresh_from_db()
    assert (request.proposed, request.rejection_reason, request.status) == ({}, "", "rejected")
    assert not AuditEntry.objects.filter(summary__contains="Abgelehnt").exists()
    assert retention.plan(later).entries == 0


def test_an_account_with_a_role_to_come_is_not_closed(tree, former):
    account = User.objects.create_user("frieda@example.org")
    RoleAssignment.objects.create(
        user=account, division=tree.leipzig, role="viewer", valid_from=date(2030, 1, 1)
    )
    retention.apply(retention.plan(TOLD))
    retention.apply(retention.plan(DUE))
    account.refresh_from_db()
    assert account.is_active and account.email == "frieda@example.org"


def test_a_member_who_rejoined_and_left_again_is_told_again(former, tree):
    retention.apply(retention.plan(TOLD))
    RetentionNotice.objects.filter(member=former).update(sent_on=date(2023, 1, 1))
    Member.objects.filter(pk=former.pk).update(left_on=date(2024, 3, 31))
    # The notice predates the membership's end: it was about an earlier one.
    plan = retention.plan(DUE)
    assert [n.member_id for n in plan.notices] == [former.pk] and not plan.anonymise
    retention.apply(plan)
    assert RetentionNotice.objects.get(member=former).sent_on == DUE
