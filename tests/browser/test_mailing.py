"""The Sachsen board writes a newsletter, previews it, sends a test to itself, sends it and
watches the progress bar reach 100 %. In real Chromium.

The test plays the Celery worker: sending hands the first batch to the broker, and here the
batches run one by one from the test while the page polls for progress."""

import pytest
from django.core import mail
from playwright.sync_api import Page, expect

from mailings import sending, tasks
from mailings.models import Delivery, Mailing
from tests.browser.test_change_request import log_in
from tests.factories import make_member, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_compose_preview_test_send_send_and_watch_progress(
    live_server, page: Page, tree, settings, monkeypatch
):
    settings.MUSTERROLLE_RELAX_MFA = True  # the second factor has its own browser tests
    board = make_user("vorstand-sn@example.org", tree.sn, "board", mfa=False)
    for n in range(8):
        make_member(tree.leipzig if n % 2 else tree.dresden, newsletter_consent=True)
    make_member(tree.leipzig, newsletter_consent=False)
    make_member(tree.kiel, newsletter_consent=True)
    handed_to_broker = []
    monkeypatch.setattr(
        tasks.send_batch,
        "apply_async",
        lambda args, **options: handed_to_broker.append(tuple(args)),
    )

    log_in(page, live_server.url, board.email)
    page.get_by_role("link", name="Mailings").click()
    expect(page.get_by_text("Noch keine Mailings.")).to_be_visible()
    page.get_by_role("link", name="Neues Mailing für Landesverband Sachsen").click()

    count = page.get_by_test_id("recipient-count")
    expect(count).to_have_text("8")  # newsletter is the default kind: consent only
    page.get_by_label("offiziell (Parteiangelegenheit, an alle Mitglieder)").check()
    expect(count).to_have_text("9")
    page.get_by_label("Nur diese Untergliederungen").select_option(
        label="Kreisverband Dresden (SN-DD)"
    )
    expect(count).to_have_text("4")
    page.get_by_label("Nur diese Untergliederungen").select_option([])
    page.get_by_label("Newsletter (nur Mitglieder mit Einwilligung)").check()
    expect(count).to_have_text("8")

    page.get_by_label("Betreff").fill("Neues aus Sachsen, {{ vorname }}")
    page.get_by_label("Text (Markdown)").fill(
        "Hallo {{ vorname }},\n\n**Termine** im Dezember.\n\n<script>alert(1)</script>"
    )
    page.get_by_role("button", name="Speichern").click()
    expect(page.get_by_text("Mailing gespeichert.")).to_be_visible()

    page.get_by_role("link", name="Vorschau").click()
    expect(page.get_by_test_id("preview-subject")).to_have_text("Neues aus Sachsen, Erika")
    expect(page.get_by_test_id("preview-text")).to_contain_text("Hallo Erika,")
    frame = page.frame_locator("iframe.mail-preview")
    expect(frame.locator("strong")).to_have_text("Termine")
    expect(frame.get_by_text("<script>alert(1)</script>")).to_be_visible()  # shown, not run
    page.get_by_role("link", name="Zurück").click()

    page.get_by_role("button", name="Test an mich senden").click()
    expect(
        page.get_by_text("Eine Testmail ist unterwegs an vorstand-sn@example.org.")
    ).to_be_visible()
    assert [m.to for m in mail.outbox] == [[board.email]]
    assert mail.outbox[0].subject == "[Test] Neues aus Sachsen, Erika"

    page.get_by_role("link", name="Versenden …").click()
    page.get_by_role("button", name="Jetzt an 8 Mitglieder senden").click()
    expect(page.get_by_text("Der Versand hat begonnen.")).to_be_visible()
    percent = page.get_by_test_id("progress-percent")
    expect(percent).to_have_text("0 %")

    mailing = Mailing.objects.get()
    assert handed_to_broker == [(mailing.pk, mailing.chain)]
    seen = []
    while sending.send_batch(mailing.pk, mailing.chain, size=3).outcome == "more":
        # The page polls every second: it shows each step without a reload.
        done = Delivery.objects.filter(status="sent").count()
        expect(percent).to_have_text(f"{100 * done // 8} %")
        seen.append(percent.inner_text())
    expect(percent).to_have_text("100 %")
    expect(page.get_by_text("fertig", exact=True)).to_be_visible()
    assert seen[:2] == ["37 %", "75 %"]
    assert sorted(m.to[0] for m in mail.outbox[1:]) == sorted(
        Delivery.objects.values_list("email", flat=True)
    )
    assert len(mail.outbox) == 9
