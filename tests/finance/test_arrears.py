"""Arrears lead somewhere: reminders (e-mail or letter), striking off with an objection
period, and the notice that a reduction ends. Through the services, the tasks, the command,
the board pages and the admin."""

import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from config.celery import app
from finance import arrears, letters, payments, services, tasks
from finance.models import FeeRule, ReductionNotice, Reminder, StrikeOff
from members import services as members
from members.models import AuditEntry, EndReason, ExportLog, MemberStatus
from outbox.models import OutboundEmail
from tests.factories import make_member, make_user

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
SINCE = date(2025, 1, 15)  # the day the spell of arrears began
FIRST = SINCE + timedelta(days=1)
SECOND = FIRST + timedelta(days=30)


def at(day: date):
    """Freeze "today" at noon in Berlin on `day`."""
    return time_machine.travel(
        datetime(day.year, day.month, day.day, 12, tzinfo=BERLIN), tick=False
    )


def owe(member, amount="-120.00", since=SINCE):
    """Store the member's state as finance computes it: in arrears since `since`."""
    members.set_payment_states({member.pk: (Decimal(amount), "in_arrears", since)})
    member.refresh_from_db()
    return member


def settle(member):
    members.set_payment_states({member.pk: (Decimal("0.00"), "paid_up", None)})


def pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page\b", pdf))


def mails(template="dues_reminder"):
    return list(OutboundEmail.objects.filter(template=template).order_by("pk"))


def reminded(member, since=SINCE):
    """Both reminders of the spell, 30 days apart."""
    owe(member, since=since)
    arrears.send_reminders(on=since + timedelta(days=1))
    arrears.send_reminders(on=since + timedelta(days=31))
    return member


def proposed(member):
    reminded(member)
    arrears.propose_strike_offs(on=date(2026, 1, 16))
    return StrikeOff.objects.get(member=member)


# --- Reminders --------------------------------------------------------------------------


def test_reminder_one_then_two_after_the_interval_and_never_twice(tree):
    member = owe(make_member(tree.leipzig, first_name="Jörg"))
    run = arrears.send_reminders(on=FIRST)
    assert (run.first, run.second, run.letters, run.skipped) == (1, 0, 0, 0)
    assert arrears.send_reminders(on=FIRST).skipped == 1  # the same day again: nothing
    assert arrears.send_reminders(on=SECOND - timedelta(days=1)).second == 0  # 29 days
    assert arrears.send_reminders(on=SECOND).second == 1
    assert arrears.send_reminders(on=SECOND + timedelta(days=90)).skipped == 1  # no third
    assert list(member.reminders.order_by("level").values_list("level", "sent_on", "amount")) == [
        (1, FIRST, Decimal("120.00")),
        (2, SECOND, Decimal("120.00")),
    ]
    first, second = mails()
    assert first.to == [member.email]
    assert str(member.membership_number) in first.subject
    assert f"MB2025 {member.membership_number}" in first.body_text
    assert "120,00 €" in first.body_text
    assert "DE02 1203 0000 0000 2020 51" in first.body_text
    assert "<" not in first.body_text  # plain text reads as text
    assert "16.01.2025" in second.body_text  # reminder 2 names the date of reminder 1
    assert "12" in second.body_text


def test_members_without_an_address_get_a_letter_one_page_each(tree):
    owe(make_member(tree.leipzig, email="", last_name="Ohnemail"))
    owe(make_member(tree.dresden, email="", last_name="Auchohne"))
    owe(make_member(tree.leipzig))
    run = arrears.send_reminders(on=FIRST)
    assert (run.first, run.letters) == (3, 2)
    assert len(mails()) == 1
    letters_sent = Reminder.objects.filter(channel=Reminder.Channel.LETTER)
    assert sorted(run.letter_ids) == sorted(letters_sent.values_list("pk", flat=True))
    pdf = arrears.letters_pdf(letters.letters_of(run.letter_ids))
    assert pdf.startswith(b"%PDF")
    assert pages(pdf) == 2
    assert b"DejaVuSans" in pdf  # embedded: "€" and every name print


def test_the_letters_fall_back_to_helvetica_without_the_font(tree, monkeypatch):
    monkeypatch.setattr(letters, "FONT", letters.FONT_DIR / "missing.ttf")
    member = owe(make_member(tree.leipzig, email="", first_name="Łucja"))
    run = arrears.send_reminders(on=FIRST)
    pdf = arrears.letters_pdf(Reminder.objects.filter(pk__in=run.letter_ids))
    assert pages(pdf) == 1
    assert b"DejaVu" not in pdf
    text = _inflated(pdf)
    assert b"120,00 EUR" in text
    assert f"MB2025 {member.membership_number}".encode() in text


def _inflated(pdf: bytes) -> bytes:
    import zlib

    streams = re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.DOTALL)
    out = b""
    for stream in streams:
        try:
            out += zlib.decompress(stream)
        except zlib.error:
            out += stream
    return out


def test_only_current_members_owing_money_are_reminded(tree):
    owe(make_member(tree.leipzig))
    make_member(tree.leipzig)  # paid up
    ended = owe(make_member(tree.leipzig))
    members.end_membership(by=None, member=ended, on=date(2025, 1, 10), reason=EndReason.EXIT)
    owe(make_member(tree.leipzig), since=FIRST + timedelta(days=1))  # not yet in arrears on FIRST
    members.set_payment_states(
        {make_member(tree.leipzig).pk: (Decimal("0.00"), "in_arrears", SINCE)}  # owes nothing
    )
    run = arrears.send_reminders(on=FIRST)
    assert (run.first, run.skipped) == (1, 0)


def test_a_new_spell_of_arrears_starts_again_with_reminder_one(tree):
    member = reminded(make_member(tree.leipzig))
    settle(member)
    owe(member, since=date(2026, 4, 1))
    run = arrears.send_reminders(on=date(2026, 4, 2))
    assert run.first == 1
    assert member.reminders.filter(arrears_since=date(2026, 4, 1), level=1).exists()


def test_a_dry_run_counts_and_writes_nothing(tree):
    owe(make_member(tree.leipzig))
    owe(make_member(tree.leipzig, email=""))
    run = arrears.send_reminders(on=FIRST, dry_run=True)
    assert (run.first, run.letters, run.letter_ids) == (2, 1, [])
    assert not Reminder.objects.exists()
    assert mails() == []


def test_a_run_reminding_by_letter_reads_in_batches_not_per_member(tree):
    def queries(count):
        for _ in range(count):
            owe(make_member(tree.leipzig, email=""))
        Reminder.objects.all().delete()
        with CaptureQueriesContext(connection) as captured:
            arrears.send_reminders(on=FIRST)
        return len(captured)

    assert queries(2) == queries(6)


def test_a_batch_that_collides_with_another_run_is_read_again(tree, monkeypatch):
    """Two runs at once: the one whose insert meets the other's rows on the constraint
    rolls its batch back and reads it again, so nobody is reminded twice."""
    member = owe(make_member(tree.leipzig))
    insert = Reminder.objects.bulk_create

    def the_other_run_was_first(rows, **kwargs):
        monkeypatch.setattr(Reminder.objects, "bulk_create", insert)
        raise IntegrityError("finance_reminder_once")

    monkeypatch.setattr(Reminder.objects, "bulk_create", the_other_run_was_first)
    run = arrears.send_reminders(on=FIRST)
    assert (run.first, run.skipped) == (1, 0)  # counted once, not once per attempt
    assert member.reminders.count() == 1
    assert len(mails()) == 1


def test_reminders_follow_the_ledger(tree):
    """Real dues: the nightly recompute puts the member in arrears after the grace period."""
    FeeRule.objects.create(
        fee_class="regular", yearly_amount=Decimal("120.00"), valid_from=date(2020, 1, 1)
    )
    with at(date(2026, 1, 5)):
        member = make_member(tree.leipzig)
        services.run_dues(year=2026)
    with at(date(2026, 4, 1)):
        payments.recompute_all()
        member.refresh_from_db()
        assert member.payment_status == "in_arrears"
        tasks.send_reminders()
        tasks.send_reminders()  # the task runs twice, acts once
    reminder = member.reminders.get()
    assert (reminder.level, reminder.amount, reminder.arrears_since) == (
        1,
        Decimal("120.00"),
        member.arrears_since,
    )
    assert reminder.reference == f"MB2026 {member.membership_number}"
    assert len(mails()) == 1


# --- The command ------------------------------------------------------------------------


@pytest.fixture
def letters_dir(settings, tmp_path):
    settings.MUSTERROLLE_LETTERS_DIR = tmp_path / "letters"
    return settings.MUSTERROLLE_LETTERS_DIR


def test_the_command_sends_and_writes_the_letters(tree, letters_dir, capsys):
    owe(make_member(tree.leipzig, email=""))
    owe(make_member(tree.kiel))
    with at(FIRST):
        call_command("send_reminders")
    out = capsys.readouterr().out
    assert "Reminders 2025-01-16: sent 2 first, 0 second (1 letters)" in out
    path = letters_dir / "reminders-2025-01-16.pdf"
    assert f"Letters to print: {path}" in out
    assert pages(path.read_bytes()) == 1


def test_the_command_dry_run_writes_nothing(tree, letters_dir, capsys):
    owe(make_member(tree.leipzig, email=""))
    with at(FIRST):
        call_command("send_reminders", "--dry-run")
    assert "would send 1 first, 0 second (1 letters)" in capsys.readouterr().out
    assert not Reminder.objects.exists()
    assert not letters_dir.exists()
    assert mails() == []


def test_the_command_for_a_division_reminds_only_its_subtree(tree, letters_dir, capsys):
    leipzig = owe(make_member(tree.leipzig_sued, email=""))
    owe(make_member(tree.dresden, email=""))
    owe(make_member(tree.kiel))
    call_command("send_reminders", "--division", "sn-l", "--date", FIRST.isoformat())
    assert "Reminders 2025-01-16 SN-L: sent 1 first" in capsys.readouterr().out
    assert list(Reminder.objects.values_list("member", flat=True)) == [leipzig.pk]
    assert pages((letters_dir / "reminders-2025-01-16-SN-L.pdf").read_bytes()) == 1


def test_the_command_refuses_an_unknown_division(tree):
    with pytest.raises(Exception, match="no division with the code XX"):
        call_command("send_reminders", "--division", "XX")


# --- Striking off -----------------------------------------------------------------------


def test_proposed_only_after_more_than_twelve_months_and_two_reminders(tree):
    both = owe(make_member(tree.leipzig))
    once = owe(make_member(tree.dresden))
    arrears.send_reminders(on=FIRST)
    arrears.send_reminders(on=SECOND, division=tree.leipzig)
    assert (both.reminders.count(), once.reminders.count()) == (2, 1)
    assert arrears.propose_strike_offs(on=date(2026, 1, 15)) == 0  # exactly twelve months
    assert arrears.propose_strike_offs(on=date(2026, 1, 16)) == 1
    assert arrears.propose_strike_offs(on=date(2026, 1, 17)) == 0  # once per spell
    strike = StrikeOff.objects.get()
    assert (strike.member, strike.status, strike.amount, strike.arrears_since) == (
        both,
        StrikeOff.Status.PROPOSED,
        Decimal("120.00"),
        SINCE,
    )


def test_reminder_two_must_be_the_interval_old_before_a_proposal(tree, settings):
    member = owe(make_member(tree.leipzig), since=date(2024, 1, 1))
    arrears.send_reminders(on=date(2025, 12, 1))
    arrears.send_reminders(on=date(2026, 1, 10))
    assert member.reminders.count() == 2
    assert arrears.propose_strike_offs(on=date(2026, 2, 8)) == 0  # reminder 2 is 29 days old
    assert arrears.propose_strike_offs(on=date(2026, 2, 9)) == 1


def test_deciding_tells_the_member_until_when_they_may_object(tree, federal_admin):
    strike = proposed(make_member(tree.leipzig))
    arrears.decide_strike_off(strike=strike, by=federal_admin, on=date(2026, 2, 1))
    strike.refresh_from_db()
    assert (strike.status, strike.decided_by, strike.objection_until) == (
        StrikeOff.Status.DECIDED,
        federal_admin,
        date(2026, 3, 3),
    )
    (mail,) = mails("strike_off_decided")
    assert mail.to == [strike.member.email]
    assert "03.03.2026" in mail.body_text
    assert "120,00 €" in mail.body_text
    assert AuditEntry.objects.filter(
        action="finance.strike_off_decided", actor=federal_admin, object_id=str(strike.pk)
    ).exists()
    with pytest.raises(ValidationError):
        arrears.decide_strike_off(strike=strike, by=federal_admin, on=date(2026, 2, 2))


def test_without_an_address_the_decision_is_a_letter(tree, federal_admin):
    strike = proposed(make_member(tree.leipzig, email=""))
    arrears.decide_strike_off(strike=strike, by=federal_admin, on=date(2026, 2, 1))
    assert mails("strike_off_decided") == []
    strike.refresh_from_db()
    pdf = arrears.strike_off_letters_pdf([strike])
    assert pages(pdf) == 1


def test_a_board_cannot_decide(tree, board_sn):
    strike = proposed(make_member(tree.leipzig))
    with pytest.raises(PermissionDenied):
        arrears.decide_strike_off(strike=strike, by=board_sn, on=date(2026, 2, 1))
    with pytest.raises(PermissionDenied):
        arrears.drop_strike_off(strike=strike, by=board_sn)
    strike.refresh_from_db()
    assert strike.status == StrikeOff.Status.PROPOSED


def test_an_objection_stops_the_strike_off(tree, federal_admin):
    strike = proposed(make_member(tree.leipzig))
    arrears.decide_strike_off(strike=strike, by=federal_admin, on=date(2026, 2, 1))
    arrears.record_objection(strike=strike, by=federal_admin, note="Brief vom 20.02.")
    run = arrears.strike_off_due(on=date(2026, 3, 10))
    assert (run.struck_off, run.dropped) == (0, 0)
    strike.refresh_from_db()
    assert (strike.status, strike.note) == (StrikeOff.Status.OBJECTED, "Brief vom 20.02.")
    strike.member.refresh_from_db()
    assert strike.member.status != MemberStatus.ENDED
    assert AuditEntry.objects.filter(action="finance.strike_off_objected").exists()
    assert arrears.propose_strike_offs(on=date(2026, 3, 10)) == 0  # not again for this spell


def test_after_the_objection_period_the_membership_ends_struck_off(tree, federal_admin):
    strike = proposed(make_member(tree.leipzig))
    arrears.decide_strike_off(strike=strike, by=federal_admin, on=date(2026, 2, 1))
    assert arrears.strike_off_due(on=date(2026, 3, 3)).struck_off == 0  # the last day to object
    with at(date(2026, 3, 4)):
        tasks.strike_offs()
        tasks.strike_offs()  # runs twice, acts once
    strike.refresh_from_db()
    member = strike.member
    member.refresh_from_db()
    assert strike.status == StrikeOff.Status.STRUCK_OFF
    assert (member.status, member.end_reason, member.left_on) == (
        MemberStatus.ENDED,
        EndReason.STRUCK_OFF,
        date(2026, 3, 4),
    )
    assert AuditEntry.objects.filter(action="member.ended", object_id=str(member.pk)).exists()


def test_paying_drops_the_strike_off(tree, federal_admin):
    proposal = proposed(make_member(tree.leipzig))
    decision = proposed(make_member(tree.dresden))
    arrears.decide_strike_off(strike=decision, by=federal_admin, on=date(2026, 2, 1))
    settle(proposal.member)
    settle(decision.member)
    run = arrears.strike_off_due(on=date(2026, 3, 10))
    assert (run.struck_off, run.dropped) == (0, 2)
    assert set(StrikeOff.objects.values_list("status", flat=True)) == {StrikeOff.Status.DROPPED}
    decision.member.refresh_from_db()
    assert decision.member.status != MemberStatus.ENDED


def test_a_decision_is_refused_once_the_member_paid(tree, federal_admin):
    strike = proposed(make_member(tree.leipzig))
    settle(strike.member)
    with pytest.raises(ValidationError):
        arrears.decide_strike_off(strike=strike, by=federal_admin, on=date(2026, 2, 1))


# --- Reduced dues ending ----------------------------------------------------------------


def test_a_reduction_ending_is_announced_once_within_the_notice_period(tree):
    FeeRule.objects.create(
        fee_class="regular", yearly_amount=Decimal("120.00"), valid_from=date(2020, 1, 1)
    )
    on = date(2026, 6, 1)
    soon = make_member(tree.leipzig, fee_class="reduced", reduced_until=date(2026, 6, 29))
    make_member(tree.leipzig, fee_class="reduced", reduced_until=date(2026, 6, 30))  # 29 days
    make_member(tree.leipzig, fee_class="reduced", reduced_until=date(2026, 5, 31))  # over
    make_member(tree.leipzig, fee_class="reduced", reduced_until=date(2026, 6, 10), email="")
    with at(on):
        tasks.notify_reductions()
        tasks.notify_reductions()
    (mail,) = mails("reduction_ending")
    assert mail.to == [soon.email]
    assert "29.06.2026" in mail.subject
    assert "30.06.2026" in mail.body_text and "120,00 €" in mail.body_text
    assert list(ReductionNotice.objects.values_list("member", "reduced_until", "sent_on")) == [
        (soon.pk, date(2026, 6, 29), on)
    ]
    # A new reduction granted later is announced again when it ends.
    members.update_member(by=None, member=soon, changes={"reduced_until": date(2027, 6, 20)})
    assert arrears.notify_reductions(on=date(2027, 6, 1)) == 1


def test_the_daily_jobs_are_scheduled():
    tasks_scheduled = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert {"finance.send_reminders", "finance.strike_offs", "finance.notify_reductions"} <= (
        tasks_scheduled
    )


# --- Boards: pages and letters ----------------------------------------------------------


LETTERS_DAY = date(2026, 1, 2)


@pytest.fixture
def both_states(tree, federal_admin):
    """A Dresden and a Kiel member decided; a Leipzig and a Kiel member (in arrears only
    since this year) reminded by letter on LETTERS_DAY."""
    dresden = proposed(make_member(tree.dresden, last_name="Dresdnerin"))
    foreign = proposed(make_member(tree.kiel, last_name="Holsteinerin"))
    for strike in (dresden, foreign):
        arrears.decide_strike_off(strike=strike, by=federal_admin, on=date(2026, 2, 1))
    since = LETTERS_DAY - timedelta(days=1)
    leipzig = owe(make_member(tree.leipzig, email="", last_name="Leipziger"), since=since)
    kiel = owe(make_member(tree.kiel, email="", last_name="Kieler"), since=since)
    assert arrears.send_reminders(on=LETTERS_DAY).letters == 2
    return {"leipzig": leipzig, "kiel": kiel, "dresden": dresden, "foreign": foreign}


def test_boards_see_the_strike_offs_and_letters_of_their_area_only(
    client, tree, board_sn, both_states
):
    client.force_login(board_sn)
    response = client.get(reverse("finance:arrears"))
    assert response.context["division"] == tree.sn
    assert [s.member.last_name for s in response.context["page_obj"]] == ["Dresdnerin"]
    assert "Holsteinerin" not in response.text
    assert "03.03.2026" in response.text
    assert [row["count"] for row in response.context["letter_days"]] == [1]  # Leipzig only
    letters_url = reverse("finance:reminder_letters", args=[LETTERS_DAY.isoformat()])
    pdf = client.get(letters_url)
    assert pdf["Content-Type"] == "application/pdf"
    assert pages(pdf.content) == 1
    assert "zahlungserinnerungen-SN-2026-01-02.pdf" in pdf["Content-Disposition"]
    log = ExportLog.objects.get()
    assert (log.exported_by, log.division, log.rows, log.file_format) == (
        board_sn,
        tree.sn,
        1,
        "pdf",
    )


def test_a_foreign_division_is_404_like_a_missing_one(client, tree, board_sn, both_states):
    client.force_login(board_sn)
    letters_url = reverse("finance:reminder_letters", args=[LETTERS_DAY.isoformat()])
    for url in (reverse("finance:arrears"), letters_url):
        assert client.get(url, {"division": tree.sh.pk}).status_code == 404
        assert client.get(url, {"division": "x"}).status_code == 404
    assert client.get(letters_url, {"division": tree.dresden.pk}).status_code == 404  # no letters
    assert client.get(reverse("finance:reminder_letters", args=["gestern"])).status_code == 404


def test_a_district_board_sees_its_district_only(client, tree, board_leipzig, both_states):
    client.force_login(board_leipzig)
    response = client.get(reverse("finance:arrears"))
    assert response.context["division"] == tree.leipzig
    assert list(response.context["page_obj"]) == []  # the Dresden decision is not theirs
    assert client.get(reverse("finance:arrears"), {"division": tree.sn.pk}).status_code == 404


def test_without_a_finance_role_the_page_is_404(client, tree, both_states):
    officer = make_user("mitglieder-sn@example.org", tree.sn, "membership_officer")
    client.force_login(officer)
    assert client.get(reverse("finance:arrears")).status_code == 404
    assert (
        client.get(reverse("finance:reminder_letters", args=[LETTERS_DAY.isoformat()])).status_code
        == 404
    )


def test_the_arrears_page_costs_the_same_with_one_or_many_rows(client, tree, treasurer_sn):
    def queries():
        with CaptureQueriesContext(connection) as captured:
            response = client.get(reverse("finance:arrears"))
        return len(captured), len(response.context["page_obj"])

    client.force_login(treasurer_sn)
    owe(make_member(tree.leipzig))
    arrears.send_reminders(on=FIRST)
    arrears.send_reminders(on=SECOND)
    arrears.propose_strike_offs(on=date(2026, 1, 16))
    client.get(reverse("finance:arrears"))  # the session's first request
    one = queries()
    for _ in range(4):
        owe(make_member(tree.dresden))
    arrears.send_reminders(on=FIRST)
    arrears.send_reminders(on=SECOND)
    arrears.propose_strike_offs(on=date(2026, 1, 16))
    many = queries()
    assert (one[1], many[1]) == (1, 5)
    assert many[0] == one[0]


def test_the_member_account_lists_reminders_and_the_strike_off(
    client, tree, treasurer_sn, federal_admin
):
    strike = proposed(make_member(tree.leipzig))
    arrears.decide_strike_off(strike=strike, by=federal_admin, on=date(2026, 2, 1))
    client.force_login(treasurer_sn)
    response = client.get(reverse("finance:member_account", args=[strike.member.pk]))
    assert [r.level for r in response.context["reminders"]] == [2, 1]
    assert list(response.context["strike_offs"]) == [strike]
    assert "03.03.2026" in response.text


def test_the_menu_links_the_arrears_page_for_finance_roles(client, tree, treasurer_sn):
    client.force_login(treasurer_sn)
    page = client.get(reverse("members:division_detail", args=[tree.sn.pk])).text
    assert f'href="{reverse("finance:arrears")}"' in page
    officer = make_user("mitglieder-sn@example.org", tree.sn, "membership_officer")
    client.force_login(officer)
    page = client.get(reverse("members:division_detail", args=[tree.sn.pk])).text
    assert reverse("finance:arrears") not in page


# --- The admin --------------------------------------------------------------------------


def _changelist(model):
    return reverse(f"admin:finance_{model._meta.model_name}_changelist")


def test_the_federal_office_decides_and_records_an_objection_in_the_admin(
    client, tree, federal_admin
):
    strike = proposed(make_member(tree.leipzig))
    client.force_login(federal_admin)
    client.get(_changelist(StrikeOff))  # the session settles now, not in February
    with at(date(2026, 2, 1)):
        response = client.post(
            _changelist(StrikeOff), {"action": "decide", "_selected_action": [strike.pk]}
        )
    assert response.status_code == 302
    strike.refresh_from_db()
    assert (strike.status, strike.objection_until) == (StrikeOff.Status.DECIDED, date(2026, 3, 3))
    form = client.post(
        _changelist(StrikeOff), {"action": "record_objection", "_selected_action": [strike.pk]}
    )
    assert form.status_code == 200 and "note" in form.context["form"].fields
    client.post(
        _changelist(StrikeOff),
        {
            "action": "record_objection",
            "_selected_action": [strike.pk],
            "apply": "1",
            "note": "Widerspruch per Post",
        },
    )
    strike.refresh_from_db()
    assert (strike.status, strike.note) == (StrikeOff.Status.OBJECTED, "Widerspruch per Post")


def test_the_admin_prints_the_decisions_for_members_without_an_address(client, tree, federal_admin):
    on_paper = proposed(make_member(tree.leipzig, email=""))
    by_mail = proposed(make_member(tree.leipzig))
    for strike in (on_paper, by_mail):
        arrears.decide_strike_off(strike=strike, by=federal_admin, on=date(2026, 2, 1))
    client.force_login(federal_admin)
    response = client.post(
        _changelist(StrikeOff),
        {"action": "print_letters", "_selected_action": [on_paper.pk, by_mail.pk]},
    )
    assert response["Content-Type"] == "application/pdf"
    assert pages(response.content) == 1


def test_the_admin_drops_a_strike_off(client, tree, federal_admin):
    strike = proposed(make_member(tree.leipzig))
    client.force_login(federal_admin)
    client.post(
        _changelist(StrikeOff),
        {"action": "drop", "_selected_action": [strike.pk], "apply": "1", "note": "bezahlt"},
    )
    strike.refresh_from_db()
    assert (strike.status, strike.note) == (StrikeOff.Status.DROPPED, "bezahlt")


def _staff(user, *codenames):
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return user


def test_a_board_in_the_admin_reads_its_area_but_cannot_decide(client, tree, board_sn, both_states):
    _staff(board_sn, "view_strikeoff", "change_strikeoff", "view_reminder")
    client.force_login(board_sn)
    changelist = client.get(_changelist(StrikeOff))
    assert [s.member.last_name for s in changelist.context["cl"].result_list] == ["Dresdnerin"]
    assert changelist.context["action_form"] is None  # no action is offered at all
    strike = both_states["dresden"]
    client.post(
        _changelist(StrikeOff),
        {"action": "record_objection", "_selected_action": [strike.pk], "apply": "1"},
    )
    strike.refresh_from_db()
    assert strike.status == StrikeOff.Status.DECIDED
    reminders = client.get(_changelist(Reminder)).context["cl"].result_list
    assert {r.member.last_name for r in reminders} == {"Leipziger", "Dresdnerin"}
    assert Reminder.objects.filter(member__division=tree.kiel).count() == 3  # would leak
