"""Annual contribution receipts: the sums are the ledger's (returns and divided bookings as the
annual report counts them), a run issues each receipt once, numbers it, sends it by e-mail or
puts it in the print file, corrects and withdraws what the ledger no longer holds; the PDF is
rendered again byte for byte from the row; boards see their area's receipts, the federal
office alone starts a run and sets the wording."""

from __future__ import annotations

import re
import zlib
from datetime import date
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from finance import contributions, payments, receipts, tasks
from finance.models import ContributionReceipt, Payment, ReceiptRun, ReceiptWording
from members.models import AuditEntry, ExportLog
from outbox.models import OutboundEmail
from tests.factories import make_user
from tests.finance.statements import entry
from tests.finance.test_year_rules import admit, at, book
from tests.finance.test_year_rules import rules as rules  # the fixture

pytestmark = pytest.mark.django_db
TODAY = date(2026, 1, 15)
YEAR = 2025


@pytest.fixture(autouse=True)
def _english_pdfs(settings):
    """Receipts render in the site's language; the tests read their English source text."""
    settings.LANGUAGE_CODE = "en"


# --- Reading a PDF the way a reader would -------------------------------------------------


def pdf_text(pdf: bytes) -> str:
    """The text of every line drawn, in drawing order, one per line: each font's codes
    mapped back through its ToUnicode table (what a PDF reader does to copy text)."""
    objects = {int(n): body for n, body in re.findall(rb"(\d+) 0 obj(.*?)endobj", pdf, re.S)}

    def stream(body: bytes) -> bytes:
        data = re.search(rb"stream\r?\n(.*?)\r?\nendstream", body, re.S).group(1)
        try:
            return zlib.decompress(data)
        except zlib.error:
            return data

    unicode_of = {}  # font object number: {code: text}
    for number, body in objects.items():
        if found := re.search(rb"/ToUnicode (\d+) 0 R", body):
            table = stream(objects[int(found.group(1))])
            unicode_of[number] = {
                int(code, 16): bytes.fromhex(text.decode()).decode("utf-16-be")
                for code, text in re.findall(rb"<([0-9A-F]{4})> <([0-9A-F]+)>", table)
            }
    names = {}  # resource name: font object number
    for body in objects.values():
        if found := re.search(rb"/Font\s*<<(.*?)>>", body, re.S):
            for name, number in re.findall(rb"/(F\d+) (\d+) 0 R", found.group(1)):
                names[name] = int(number)
    lines = []
    for body in objects.values():
        if b"/Length" not in body or b"/Type /Page" in body:
            continue
        content = stream(body)
        font = None
        for token in re.finditer(rb"/(F\d+) [\d.]+ Tf|\(((?:\\.|[^\\)])*)\) Tj", content, re.S):
            if token.group(1):
                font = unicode_of.get(names.get(token.group(1)))
            elif font is not None:
                raw = re.sub(
                    rb"\\(.)",
                    lambda m: {b"r": b"\r", b"n": b"\n"}.get(m.group(1), m.group(1)),
                    token.group(2),
                )
                codes = [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]
                lines.append("".join(font.get(code, "\ufffd") for code in codes))
    return "\n".join(lines)


def pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page\b", pdf))


# --- The ledger of 2025 ------------------------------------------------------------------


@pytest.fixture
def ledger(tree, rules):
    """Nora: dues collected by direct debit and returned, paid again by transfer, her part of
    a booking divided between her and Paul, a donation. Paul: his part. Olga: a debit
    returned and never paid again (nothing to confirm). Somebody: a donation nobody could
    match. Jörg (no e-mail): dues."""
    nora = admit(tree.leipzig, date(2025, 1, 5))
    paul = admit(tree.dresden, date(2025, 1, 5), first_name="Paul", email="paul@example.org")
    olga = admit(tree.sh, date(2025, 1, 5), first_name="Olga", email="olga@example.org")
    jörg = admit(
        tree.leipzig_sued,
        date(2025, 1, 5),
        first_name="Jörg",
        last_name="Ünal-Łukasz",
        email="",
        street="Straße des 17. Juni 1",
        postal_code="04277",
        city="Leipzig",
    )
    n, p, o, j = (m.membership_number for m in (nora, paul, olga, jörg))
    book(
        entry(
            "120.00",
            ref="N1",
            e2e="E-N",
            direct_debit=True,
            reference=f"MB2025 {n}",
            booked="2025-03-03",
        ),
        entry(
            "120.00",
            ref="O1",
            e2e="E-O",
            direct_debit=True,
            reference=f"MB2025 {o}",
            booked="2025-03-03",
        ),
        entry("240.00", ref="D1", reference=f"MB2025 {n} MB2025 {p}", booked="2025-03-05"),
        entry("72.00", ref="J1", reference=f"MB2025 {j}", booked="2025-03-06"),
        day=date(2025, 3, 6),
        name="march",
    )
    book(
        entry(
            "120.00", ref="N2", e2e="E-N", credit=False, return_reason="AM04", booked="2025-03-10"
        ),
        entry(
            "120.00", ref="O2", e2e="E-O", credit=False, return_reason="MD01", booked="2025-03-10"
        ),
        entry("120.00", ref="N3", reference=f"MB2025 {n}", booked="2025-04-01"),
        entry("50.00", ref="N4", reference=f"Spende MB2025 {n}", booked="2025-06-02"),
        entry("30.00", ref="U1", reference="Spende", name="Anonym", booked="2025-06-03"),
        day=date(2025, 6, 3),
        name="june",
    )
    divided = Payment.objects.get(bank_reference="D1")
    with at(date(2025, 6, 4)):
        payments.split_payment(
            payment=divided, parts=[(nora, Decimal("60.00")), (paul, Decimal("180.00"))], by=None
        )
    return {"nora": nora, "paul": paul, "olga": olga, "jörg": jörg}


def issue(**kwargs):
    with at(TODAY):
        return receipts.issue_receipts(year=YEAR, **kwargs)


def current(member):
    return ContributionReceipt.objects.current().get(member=member, year=YEAR)


def test_receipts_state_the_ledger_as_the_annual_report_counts_it(ledger):
    run = issue()
    assert (run.status, run.issued, run.nothing) == ("done", 3, 1)
    nora = current(ledger["nora"])
    # The returned debit and its return are set off; the divided original is nobody's.
    assert nora.lines == [
        ["2025-03-05", "dues", "60.00"],
        ["2025-04-01", "dues", "120.00"],
        ["2025-06-02", "donation", "50.00"],
    ]
    assert (nora.dues, nora.donations) == (Decimal("180.00"), Decimal("50.00"))
    assert current(ledger["paul"]).lines == [["2025-03-05", "dues", "180.00"]]
    assert not ContributionReceipt.objects.filter(member=ledger["olga"]).exists()  # 0 €
    report = {
        row[0]: (row[8], row[9])
        for row in contributions.rows(YEAR)
        if row[0] and row[8] + row[9] > 0
    }
    issued = {
        r.member.membership_number: (r.dues, r.donations)
        for r in ContributionReceipt.objects.select_related("member")
    }
    assert issued == report
    # The anonymous donation is in the report, and on nobody's receipt.
    assert [row[9] for row in contributions.rows(YEAR) if row[6] == "Anonym"] == [Decimal("30.00")]
    assert ContributionReceipt.objects.count() == 3
    assert (run.dues, run.donations) == (Decimal("432.00"), Decimal("50.00"))


def test_a_refund_is_set_off_against_the_latest_payments_of_its_purpose():
    rows = [
        (1, date(2025, 3, 1), "dues", Decimal("120.00"), None),
        (2, date(2025, 5, 1), "dues", Decimal("30.00"), None),
        (3, date(2025, 6, 1), "donation", Decimal("50.00"), None),
        (4, date(2025, 7, 1), "dues", Decimal("-40.00"), None),  # a refund of overpaid dues
    ]
    result = receipts.contributions_of(rows)
    assert (result.dues, result.donations, result.total) == (
        Decimal("110.00"),
        Decimal("50.00"),
        Decimal("160.00"),
    )
    assert result.lines == (
        ("2025-03-01", "dues", "110.00"),
        ("2025-06-01", "donation", "50.00"),
    )
    more_out_than_in = receipts.contributions_of(
        [(1, date(2025, 7, 1), "dues", Decimal("-5"), None)]
    )
    assert more_out_than_in.lines == (("2025-07-01", "dues", "-5.00"),)
    assert more_out_than_in.total < 0


def test_the_sum_is_written_out_in_german_words():
    from finance.receipts_pdf import amount_in_words

    assert amount_in_words(Decimal("120.00")) == "einhundertzwanzig Euro"
    assert amount_in_words(Decimal("1.01")) == "ein Euro und ein Cent"
    assert amount_in_words(Decimal("1234.56")) == (
        "eintausendzweihundertvierunddreißig Euro und sechsundfünfzig Cent"
    )


def test_the_dry_run_counts_and_sums_and_changes_nothing(ledger, capsys):
    with at(TODAY):
        call_command("contribution_receipts", "--year", str(YEAR), "--dry-run")
    out = capsys.readouterr().out
    assert "3 new, 0 corrected, 0 withdrawn, 0 unchanged, 1 without a positive total" in out
    assert "by e-mail: 2, by letter: 1" in out
    assert "dues 432.00 EUR, donations 50.00 EUR, total 482.00 EUR" in out
    assert not ContributionReceipt.objects.exists()
    assert not ReceiptRun.objects.exists()
    assert not OutboundEmail.objects.filter(template="contribution_receipt").exists()


def test_the_command_issues_for_a_division_and_a_second_run_issues_nothing(ledger, capsys):
    with at(TODAY):
        call_command("contribution_receipts", "--year", str(YEAR), "--division", "SN")
    assert "3 new" in capsys.readouterr().out  # Nora, Paul and Jörg live in Sachsen
    with at(TODAY):
        call_command("contribution_receipts", "--year", str(YEAR))
    out = capsys.readouterr().out
    assert "0 new, 0 corrected, 0 withdrawn, 3 unchanged, 1 without a positive total" in out
    assert ContributionReceipt.objects.count() == 3
    assert OutboundEmail.objects.filter(template="contribution_receipt").count() == 2
    assert AuditEntry.objects.filter(action="receipts.run_finished").count() == 2


def test_receipts_are_numbered_once_per_year(ledger):
    issue()
    numbers = list(ContributionReceipt.objects.order_by("serial").values_list("number", flat=True))
    assert numbers == ["2025-000001", "2025-000002", "2025-000003"]
    first = ContributionReceipt.objects.get(number="2025-000001")
    with pytest.raises(IntegrityError), transaction.atomic():
        ContributionReceipt.objects.filter(number="2025-000002").update(serial=first.serial)
    # And one current receipt per member and year, whatever code tries.
    with pytest.raises(IntegrityError), transaction.atomic():
        ContributionReceipt.objects.create(
            number="2025-999999",
            year=YEAR,
            serial=999999,
            member=first.member,
            wording=first.wording,
            issued_on=TODAY,
            dues=Decimal("1.00"),
            donations=Decimal(0),
            channel="email",
        )


def test_a_late_booking_makes_a_correction_that_replaces_the_old_receipt(ledger, settings):
    issue()
    old = current(ledger["nora"])
    number = ledger["nora"].membership_number
    book(
        entry("25.00", ref="L1", reference=f"Spende MB2025 {number}", booked="2025-12-30"),
        day=date(2026, 1, 20),
        name="late",
    )
    with at(date(2026, 1, 21)):
        run = receipts.issue_receipts(year=YEAR)
    assert (run.issued, run.corrected, run.unchanged) == (0, 1, 2)
    new = current(ledger["nora"])
    old.refresh_from_db()
    assert old.superseded_at is not None and old.replaced_by == new
    assert new.replaces == old and new.donations == Decimal("75.00")
    assert new.number == "2025-000004"  # the year's next number
    text = pdf_text(receipts.render(new))
    assert f"This receipt replaces receipt no. {old.number} of 01/15/2026" in text.replace(
        "\n", " "
    )
    mails = OutboundEmail.objects.filter(template="contribution_receipt", to=[ledger["nora"].email])
    assert mails.count() == 2
    correction = mails.order_by("pk").last()
    assert new.number in correction.subject and old.number in correction.body_text


def test_a_receipt_with_nothing_left_to_confirm_is_withdrawn(ledger):
    issue()
    with at(date(2026, 1, 20)):
        payments.record_payment(
            member=ledger["paul"],
            amount=Decimal("-180.00"),
            booked_on=date(2025, 12, 31),
            method="transfer",
            by=None,
        )
        run = receipts.issue_receipts(year=YEAR)
    assert (run.withdrawn, run.corrected) == (1, 0)
    withdrawn = ContributionReceipt.objects.get(member=ledger["paul"])
    assert withdrawn.superseded_at is not None
    assert not ContributionReceipt.objects.current().filter(member=ledger["paul"]).exists()


def test_members_with_an_address_get_an_e_mail_with_the_pdf_the_others_the_print_file(ledger):
    run = issue()
    assert (run.emailed, run.letters) == (2, 1)
    nora = current(ledger["nora"])
    mail = OutboundEmail.objects.get(template="contribution_receipt", to=[ledger["nora"].email])
    (attachment,) = mail.attachments.all()
    content = bytes(attachment.content)
    assert attachment.filename == f"zuwendungsbestaetigung-{nora.number}.pdf"
    assert content.startswith(b"%PDF") and pages(content) == 2
    text = pdf_text(content)
    assert "Nora Neu" in text and "230.00 €" in text
    assert "zweihundertdreißig Euro" in text
    assert nora.number in mail.body_text and "230.00 €" in mail.body_text
    # Rendered again from the row: the very same bytes.
    assert receipts.render(nora) == content
    # Jörg has no e-mail address: his receipt is in the run's print file.
    letter = current(ledger["jörg"])
    assert letter.channel == "letter"
    assert receipts.print_parts(run) == 1
    printed, member_ids = receipts.print_pdf(run, 0)
    assert member_ids == [letter.member_id] and pages(printed) == 2
    assert "Jörg Ünal-Łukasz" in pdf_text(printed) and "72.00 €" in pdf_text(printed)


def test_names_in_any_european_letters_print_with_the_embedded_font(ledger):
    issue()
    pdf = receipts.render(current(ledger["jörg"]))
    assert b"/FontFile2" in pdf and b"DejaVuSans" in pdf
    text = pdf_text(pdf)
    assert "Jörg Ünal-Łukasz" in text and "Straße des 17. Juni 1" in text
    assert "\ufffd" not in text


def test_rendering_keeps_nothing_of_a_document_once_it_is_written(ledger):
    from fpdf.fonts import SubsetMap

    issue()
    receipts.render(current(ledger["nora"]))
    # fpdf2 remembers each document's glyphs in caches shared by all documents: a run of
    # 100,000 receipts must not keep 100,000 documents' worth.
    assert SubsetMap.pick.cache_info().currsize == 0
    assert SubsetMap.get_glyph.cache_info().currsize == 0


def test_the_print_file_starts_each_receipt_on_a_sheet_of_its_own(ledger):
    run = issue()
    jörg = current(ledger["jörg"])
    jörg.lines = [["2025-03-06", "dues", "1.00"]] * 60  # an annex over two pages
    odd = receipts.receipts_pdf.receipts_pdf([jörg, current(ledger["nora"])])
    assert pages(odd) == 3 + 1 + 2  # 3 pages, a blank back, then 2
    assert run.letters == 1


# --- Runs: one at a time, claimed, idempotent --------------------------------------------


def test_the_task_runs_twice_and_acts_once(ledger, django_capture_on_commit_callbacks):
    with at(TODAY), django_capture_on_commit_callbacks(execute=True):
        run = receipts.start_run(year=YEAR, by=None)
    run.refresh_from_db()
    assert (run.status, run.issued, run.done, run.total) == ("done", 3, 4, 4)
    tasks.contribution_receipts(run.pk)  # delivered again: the run is done
    with at(TODAY), django_capture_on_commit_callbacks(execute=True):
        again = receipts.start_run(year=YEAR, by=None)
    again.refresh_from_db()
    assert (again.issued, again.unchanged) == (0, 3)
    assert ContributionReceipt.objects.count() == 3
    assert OutboundEmail.objects.filter(template="contribution_receipt").count() == 2


def test_one_run_per_year_at_a_time_and_a_dead_one_is_taken_over(ledger):
    with at(TODAY):
        first = receipts.start_run(year=YEAR, by=None, enqueue=False)
        with pytest.raises(ValidationError):
            receipts.start_run(year=YEAR, by=None, enqueue=False)
        receipts.start_run(year=YEAR, by=None, dry_run=True, enqueue=False)  # allowed
    with at(TODAY):
        ReceiptRun.objects.filter(pk=first.pk).update(status="running", heartbeat_at=None)
    ReceiptRun.objects.filter(pk=first.pk).update(heartbeat_at=first.created_at)
    with at(date(2026, 1, 16)):  # a day later the silent worker's run is taken over
        done = receipts.execute_run(run_id=first.pk)
    assert (done.status, done.issued) == ("done", 3)


def test_receipts_are_issued_for_a_past_year_only(ledger):
    with at(TODAY), pytest.raises(ValidationError):
        receipts.start_run(year=2026, by=None)


# --- Who may do what ---------------------------------------------------------------------


def staff(email, division, role):
    user = make_user(email, division, role)
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    user.user_permissions.set(
        Permission.objects.filter(
            codename__in=["view_contributionreceipt", "view_receiptrun", "add_receiptrun"]
        )
    )
    return user


def test_a_state_treasurer_sees_the_receipts_of_the_own_state_only(client, tree, ledger):
    paul_sh = admit(tree.sh, date(2025, 1, 5), first_name="Sven", email="sven@example.org")
    book(
        entry(
            "120.00", ref="S1", reference=f"MB2025 {paul_sh.membership_number}", booked="2025-03-06"
        ),
        day=date(2025, 3, 7),
        name="sh",
    )
    issue()
    treasurer = staff("schatz-sn@example.org", tree.sn, "treasurer")
    client.force_login(treasurer)
    page = client.get(reverse("admin:finance_contributionreceipt_changelist"))
    assert page.status_code == 200
    shown = {r.member_id for r in page.context["cl"].result_list}
    assert shown == {ledger["nora"].pk, ledger["paul"].pk, ledger["jörg"].pk}
    foreign = current(paul_sh)
    assert client.get(
        reverse("admin:finance_contributionreceipt_change", args=[foreign.pk])
    ).status_code in (302, 404)
    assert (
        client.get(reverse("admin:finance_contributionreceipt_pdf", args=[foreign.pk])).status_code
        == 404
    )
    own = current(ledger["nora"])
    pdf = client.get(reverse("admin:finance_contributionreceipt_pdf", args=[own.pk]))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert ExportLog.objects.filter(exported_by=treasurer, file_format="pdf", rows=1).exists()
    # Runs and the wording are the federal office's.
    assert client.get(reverse("admin:finance_receiptrun_changelist")).status_code == 403
    assert client.get(reverse("admin:finance_receiptrun_new")).status_code == 403
    assert (
        client.post(
            reverse("admin:finance_receiptrun_new"), {"year": "2025", "start": "1"}
        ).status_code
        == 403
    )
    assert client.get(reverse("admin:finance_receiptwording_changelist")).status_code == 403
    with pytest.raises(PermissionDenied):
        receipts.start_run(year=YEAR, by=treasurer)
    assert ReceiptRun.objects.count() == 1  # the one issue() made


def test_the_receipt_list_costs_the_same_queries_for_one_and_many(
    client, tree, ledger, federal_admin
):
    url = reverse("admin:finance_contributionreceipt_changelist")
    client.force_login(federal_admin)
    issue(division=tree.dresden)  # Paul's alone
    client.get(url)  # the session's first request costs queries of its own
    with CaptureQueriesContext(connection) as one:
        assert len(client.get(url).context["cl"].result_list) == 1
    issue()
    book(
        entry(
            "5.00",
            ref="L1",
            reference=f"Spende MB2025 {ledger['nora'].membership_number}",
            booked="2025-12-30",
        ),
        day=date(2026, 1, 20),
        name="late",
    )
    issue()  # and a correction: the replaced receipt is listed too
    with CaptureQueriesContext(connection) as many:
        assert len(client.get(url).context["cl"].result_list) == 4
    assert len(many) == len(one)


def test_the_federal_office_runs_it_in_the_admin_dry_run_first_and_watches_it(
    client, ledger, federal_admin, django_capture_on_commit_callbacks
):
    client.force_login(federal_admin)
    new = reverse("admin:finance_receiptrun_new")
    assert client.get(new).status_code == 200
    with at(TODAY), django_capture_on_commit_callbacks(execute=True):
        dry = client.post(new, {"year": "2025", "dry_run": "1"})
    dry_run = ReceiptRun.objects.get(dry_run=True)
    assert dry.status_code == 302 and dry["Location"].endswith(f"/{dry_run.pk}/change/")
    assert (dry_run.status, dry_run.issued, dry_run.letters) == ("done", 3, 1)
    assert not ContributionReceipt.objects.exists()
    page = client.get(dry["Location"])
    assert page.status_code == 200
    assert 'name="start"' in page.text and 'data-done="4" data-total="4"' in page.text
    # The button posts what a browser posts: the fields of its own form, to its action (a
    # form inside the change form would send the change form instead).
    action, fields = form_of_button(page.text, "start")
    assert action == new
    with at(TODAY), django_capture_on_commit_callbacks(execute=True):
        started = client.post(action, {**fields, "start": "1"})
    run = ReceiptRun.objects.get(dry_run=False)
    assert started.status_code == 302
    assert ContributionReceipt.objects.filter(run=run).count() == 3
    progress = client.get(reverse("admin:finance_receiptrun_progress", args=[run.pk]))
    assert progress.status_code == 200
    assert 'data-done="4" data-total="4" data-status="done"' in progress.text
    assert "hx-get" not in progress.text  # done: the page stops asking
    printed = client.get(reverse("admin:finance_receiptrun_print", args=[run.pk, 0]))
    assert printed.status_code == 200 and pages(printed.content) == 2
    assert (
        client.get(reverse("admin:finance_receiptrun_print", args=[run.pk, 1])).status_code == 404
    )
    assert AuditEntry.objects.filter(action="receipts.run_started", object_id=str(run.pk)).exists()


def test_a_running_run_is_polled(client, ledger, federal_admin):
    with at(TODAY):
        run = receipts.start_run(year=YEAR, by=federal_admin, enqueue=False)
    client.force_login(federal_admin)
    progress = client.get(reverse("admin:finance_receiptrun_progress", args=[run.pk]))
    assert 'data-done="0" data-total="0" data-status="queued"' in progress.text
    assert reverse("admin:finance_receiptrun_progress", args=[run.pk]) in progress.text


def test_the_wording_is_the_federal_offices_and_a_version_in_use_stays(
    client, ledger, federal_admin
):
    issue()
    used = ReceiptWording.objects.get()
    client.force_login(federal_admin)
    form = client.get(reverse("admin:finance_receiptwording_add"))
    assert form.context["adminform"].form.initial["party_name"] == used.party_name
    values = {
        "party_name": "Partei der Zukunft",
        "party_address": "Parteistraße 2\n10117 Berlin",
        "title": used.title,
        "declarations": used.declarations,
        "notice": used.notice,
        "place": "Berlin",
        "signatory": "Erika Mustermann, Bundesschatzmeisterin",
    }
    assert client.post(reverse("admin:finance_receiptwording_add"), values).status_code == 302
    assert receipts.current_wording().party_name == "Partei der Zukunft"
    changed = client.post(reverse("admin:finance_receiptwording_change", args=[used.pk]), values)
    assert changed.status_code == 403
    used.refresh_from_db()
    assert used.party_name == "Musterpartei"
    with pytest.raises(ValidationError):
        receipts.save_wording(wording=used, by=federal_admin)
    # The receipts issued keep their wording; new ones have the new party name.
    assert "Partei der Zukunft" not in pdf_text(receipts.render(current(ledger["nora"])))
    book(
        entry(
            "5.00",
            ref="L1",
            reference=f"Spende MB2025 {ledger['nora'].membership_number}",
            booked="2025-12-30",
        ),
        day=date(2026, 1, 20),
        name="late",
    )
    with at(date(2026, 1, 21)):
        receipts.issue_receipts(year=YEAR)
    assert "Partei der Zukunft" in pdf_text(receipts.render(current(ledger["nora"])))


def form_of_button(html, name):
    """The action and the fields of the form a browser submits with the button `name`: the
    outermost open form (browsers ignore a form tag nested in another)."""
    from html.parser import HTMLParser

    class Forms(HTMLParser):
        def __init__(self):
            super().__init__()
            self.stack, self.found = [], None

        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            if tag == "form":
                self.stack.append([attrs.get("action", ""), {}])
            elif self.stack and tag == "input" and attrs.get("name"):
                self.stack[0][1][attrs["name"]] = attrs.get("value") or ""
            elif self.stack and tag == "button" and attrs.get("name") == name:
                self.found = self.stack[0]

        def handle_endtag(self, tag):
            if tag == "form" and self.stack:
                self.stack.pop()

    parser = Forms()
    parser.feed(html)
    assert parser.found is not None, f"no button {name}"
    return parser.found[0], parser.found[1]
