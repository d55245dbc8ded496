"""The coordinator opens a veto period; a circle member raises a veto and withdraws it.
In real Chromium."""

from datetime import date

import pytest
from django.core import mail
from playwright.sync_api import Page, expect

from onboarding import services
from onboarding.models import CandidateState, CircleMembership, CircleRole
from tests.browser.test_change_request import log_in
from tests.factories import make_user
from tests.onboarding.conftest import found, meet, register

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_coordinator_opens_a_veto_period_and_a_member_vetoes_and_withdraws(
    live_server, page: Page, settings
):
    settings.MUSTERROLLE_RELAX_MFA = True  # the second factor has its own browser tests
    coordinator = make_user("utopie25@example.org", None, None, mfa=False)
    member = make_user("mira@example.org", None, None, mfa=False)
    circle = found(coordinator, "Utopie25")
    CircleMembership.objects.create(
        circle=circle, user=member, role=CircleRole.MEMBER, joined_on=date(2025, 1, 1)
    )
    candidate = register(circle, coordinator, "Sam", "Einspruch")
    meet(candidate, coordinator, date(2026, 2, 1), date(2026, 2, 8))
    base = live_server.url

    log_in(page, base, coordinator.email)
    page.get_by_role("link", name="Kreise", exact=True).click()
    page.get_by_role("link", name="Utopie25").click()
    page.get_by_role("link", name="Sam Einspruch").click()
    expect(page.get_by_test_id("candidate-state")).to_have_text("Kennenlernen")
    page.get_by_role("button", name="Vetofrist eröffnen").click()
    expect(page.get_by_text("Vetofrist eröffnet")).to_be_visible()
    expect(page.get_by_test_id("candidate-state")).to_have_text("Vetofrist")
    assert sorted(m.to[0] for m in mail.outbox) == [member.email, coordinator.email]
    page.context.clear_cookies()

    log_in(page, base, member.email)
    page.get_by_role("link", name="Kreise", exact=True).click()
    page.get_by_role("link", name="Antworten").click()
    page.get_by_role("button", name="Veto einlegen").click()
    expect(page.get_by_text("Bitte begründe dein Veto.")).to_be_visible()
    page.get_by_label("Deine Begründung (nur die Koordination liest sie)").fill(
        "Wir sollten vorher noch einmal sprechen."
    )
    page.get_by_role("button", name="Veto einlegen").click()
    expect(page.get_by_text("Dein Veto ist erfasst.")).to_be_visible()
    expect(page.get_by_test_id("my-answer")).to_contain_text("Veto")
    candidate.refresh_from_db()
    assert services.standing_vetoes(candidate).count() == 1

    page.get_by_role("button", name="Mein Veto zurückziehen").click()
    expect(page.get_by_text("Dein Veto ist zurückgezogen.")).to_be_visible()
    expect(page.get_by_test_id("my-answer")).to_contain_text("keine Einwände")
    assert services.standing_vetoes(candidate).count() == 0
    candidate.refresh_from_db()
    assert candidate.state == CandidateState.VETO_PERIOD
