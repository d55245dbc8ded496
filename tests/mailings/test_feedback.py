"""What comes back from members and the provider: unsubscribes, bounces, complaints."""

import hashlib
import hmac
import json
import time

import pytest
from django.urls import reverse

from mailings import sending, services
from mailings.models import Delivery, Suppression, WebhookEvent
from members import services as register
from members.models import AuditEntry, MemberVersion
from tests.mailings.conftest import write

pytestmark = pytest.mark.django_db

SIGNING_KEY = "mailgun-test-signing-key"


@pytest.fixture
def sent(tree, board_sn, sachsen, django_capture_on_commit_callbacks):
    mailing = write(board_sn, tree.sn, kind="newsletter")
    with django_capture_on_commit_callbacks(execute=True):
        services.request_sending(by=board_sn, mailing=mailing)
    return {d.member.first_name: d for d in Delivery.objects.select_related("member")}


# --- Unsubscribe --------------------------------------------------------------------------


def test_the_unsubscribe_link_works_once(client, sent):
    anna = sent["Anna"]
    url = sending.unsubscribe_url(anna.pk, anna.member_id)
    page = client.get(url)
    assert page.status_code == 200
    assert '<form method="post">' in page.content.decode()
    anna.member.refresh_from_db()
    assert anna.member.newsletter_consent  # a GET (a link scanner) changes nothing

    done = client.post(url)
    assert done.status_code == 200
    anna.member.refresh_from_db()
    assert not anna.member.newsletter_consent
    version = MemberVersion.objects.filter(member=anna.member).latest("version")
    assert version.changes == {"newsletter_consent": [True, False]}
    assert "Unsubscribed" in version.reason
    assert (
        AuditEntry.objects.filter(action="member.changed", object_id=str(anna.member_id)).count()
        == 1
    )
    assert Delivery.objects.get(pk=anna.pk).status == Delivery.Status.UNSUBSCRIBED

    again = client.post(url)
    assert again.status_code == 200
    assert again.context["changed"] is False
    assert MemberVersion.objects.filter(member=anna.member).count() == version.version


def test_an_unsubscribe_link_sent_before_the_secret_key_was_rotated_still_works(
    client, sent, settings
):
    anna = sent["Anna"]
    url = sending.unsubscribe_url(anna.pk, anna.member_id)
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "the-new-key-after-rotation-" + "x" * 40
    assert client.post(url).status_code == 200
    anna.member.refresh_from_db()
    assert not anna.member.newsletter_consent
    # A key nobody kept signs nothing.
    settings.SECRET_KEY_FALLBACKS = []
    bert = sent["Clara"]
    old = sending.unsubscribe_token(bert.pk, bert.member_id, "some-other-key")
    path = reverse("mailings:unsubscribe", args=[bert.pk, old])
    assert client.post(path).status_code == 404


def test_one_click_unsubscribe_from_the_mail_program(client, sent):
    """RFC 8058: the mail program posts List-Unsubscribe=One-Click, without a CSRF token."""
    from django.test import Client

    clara = sent["Clara"]
    url = sending.unsubscribe_url(clara.pk, clara.member_id)
    response = Client(enforce_csrf_checks=True).post(url, {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    clara.member.refresh_from_db()
    assert not clara.member.newsletter_consent


def test_the_link_is_not_guessable_nor_valid_for_another_member(client, sent):
    anna, clara = sent["Anna"], sent["Clara"]
    token = sending.unsubscribe_token(anna.pk, anna.member_id)
    assert len(token) >= 32
    for delivery, guess in [
        (anna.pk, "0" * len(token)),
        (anna.pk, token[:-1] + ("0" if token[-1] != "0" else "1")),
        (clara.pk, token),  # Anna's token with Clara's delivery
        (anna.pk + 1000, token),
    ]:
        url = reverse("mailings:unsubscribe", args=[delivery, guess])
        assert client.post(url).status_code == 404
    clara.member.refresh_from_db()
    anna.member.refresh_from_db()
    assert clara.member.newsletter_consent and anna.member.newsletter_consent
    assert Delivery.objects.filter(status=Delivery.Status.UNSUBSCRIBED).count() == 0


def test_official_mailings_have_no_unsubscribe_link(client, tree, board_sn, sachsen):
    mailing = write(board_sn, tree.sn)
    services.request_sending(by=board_sn, mailing=mailing)
    delivery = Delivery.objects.filter(mailing=mailing).first()
    url = sending.unsubscribe_url(delivery.pk, delivery.member_id)
    assert client.post(url).status_code == 404


# --- Provider webhooks (Mailgun's format, signed with the webhook signing key) ----------


def _mailgun(event: str, delivery, *, key=SIGNING_KEY, token="tok-1", **extra):  # noqa: S107
    timestamp = str(int(time.time()))
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    return json.dumps(
        {
            "signature": {"timestamp": timestamp, "token": token, "signature": signature},
            "event-data": {
                "event": event,
                "timestamp": time.time(),
                "id": f"evt-{token}",
                "recipient": delivery.email,
                "message": {"headers": {"message-id": "abc@mailgun.example"}},
                "user-variables": {"delivery": str(delivery.pk)},
                **extra,
            },
        }
    )


@pytest.fixture
def webhook(client, settings):
    settings.ANYMAIL = {"MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY}
    settings.MAILING_TRACKING_ESP = "mailgun"

    def post(body):
        return client.post("/anymail/mailgun/tracking/", body, content_type="application/json")

    return post


def test_a_hard_bounce_suppresses_the_address(webhook, sent, tree, board_sn):
    anna = sent["Anna"]
    body = _mailgun(
        "failed",
        anna,
        severity="permanent",
        reason="bounce",
        **{"delivery-status": {"code": 550, "message": "5.1.1 mailbox unknown"}},
    )
    assert webhook(body).status_code == 200
    anna.refresh_from_db()
    assert anna.status == Delivery.Status.BOUNCED
    suppression = Suppression.objects.get()
    assert (suppression.email, suppression.reason) == (anna.email.lower(), "bounced")

    # The next mailing leaves the address out, and an edit writing it again does not help.
    register.update_member(by=None, member=anna.member, changes={"email": anna.email.upper()})
    assert services.count_audience(tree.sn, "newsletter", {}, board_sn).suppressed == 1
    # A new address is not blocked.
    register.update_member(by=None, member=anna.member, changes={"email": "anna@neu.example"})
    assert services.count_audience(tree.sn, "newsletter", {}, board_sn).suppressed == 0


def test_boards_see_their_bounced_members(client, webhook, sent, board_sn, board_sh):
    webhook(_mailgun("failed", sent["Clara"], severity="permanent"))
    client.force_login(board_sn)
    page = client.get(reverse("mailings:bounced")).content.decode()
    assert sent["Clara"].member.full_name in page
    client.force_login(board_sh)
    assert (
        sent["Clara"].member.full_name
        not in client.get(reverse("mailings:bounced")).content.decode()
    )


def test_a_soft_bounce_does_not_suppress(webhook, sent):
    webhook(_mailgun("failed", sent["Anna"], severity="temporary"))
    # Unclassified, but the server said "try later" (4xx): not blocked either.
    full = {"delivery-status": {"message": "452 4.2.2 Mailbox full"}}
    webhook(_mailgun("failed", sent["Clara"], token="tok-2", **full))
    assert Delivery.objects.get(pk=sent["Clara"].pk).status == Delivery.Status.BOUNCED
    assert not Suppression.objects.exists()


def test_other_providers_endpoints_are_closed(client, settings, sent):
    """Only the configured provider's webhook answers; an unsigned one needs the secret."""
    settings.MAILING_TRACKING_ESP = "mailgun"
    complaint = {
        "RecordType": "SpamComplaint",
        "Email": sent["Anna"].email,
        "Metadata": {"delivery": str(sent["Anna"].pk)},
    }
    response = client.post(
        "/anymail/postmark/tracking/", json.dumps(complaint), content_type="application/json"
    )
    assert response.status_code == 404
    settings.MAILING_TRACKING_ESP = "postmark"  # signs nothing: a secret is a must
    response = client.post(
        "/anymail/postmark/tracking/", json.dumps(complaint), content_type="application/json"
    )
    assert response.status_code == 403
    assert not Suppression.objects.exists()
    assert Delivery.objects.get(pk=sent["Anna"].pk).status == Delivery.Status.SENT


def test_a_complaint_suppresses(webhook, sent):
    assert webhook(_mailgun("complained", sent["Clara"])).status_code == 200
    assert Delivery.objects.get(pk=sent["Clara"].pk).status == Delivery.Status.COMPLAINED
    assert Suppression.objects.get().reason == "complained"


def test_a_forged_signature_is_rejected_and_changes_nothing(webhook, sent):
    forged = _mailgun("failed", sent["Anna"], key="not-the-key", severity="permanent")
    assert 400 <= webhook(forged).status_code < 500
    unsigned = json.loads(_mailgun("failed", sent["Anna"], severity="permanent"))
    del unsigned["signature"]
    assert 400 <= webhook(json.dumps(unsigned)).status_code < 500
    assert not Suppression.objects.exists()
    assert not WebhookEvent.objects.exists()
    assert Delivery.objects.get(pk=sent["Anna"].pk).status == Delivery.Status.SENT


def test_a_replayed_call_is_rejected_and_changes_nothing(webhook, sent):
    body = _mailgun("failed", sent["Anna"], severity="permanent")
    assert webhook(body).status_code == 200
    Suppression.objects.all().delete()  # the federal office lifted the block
    assert webhook(body).status_code == 400
    assert not Suppression.objects.exists()
    assert WebhookEvent.objects.count() == 1
