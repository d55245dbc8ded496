"""Login, invitation-only accounts, the required second factor, rate limits, language."""

import pytest
from allauth.mfa.totp.internal.auth import (
    SECRET_SESSION_KEY,
    hotp_value,
    yield_hotp_counters_from_time,
)
from django.test import Client as PlainClient
from django.urls import reverse

from members.models import User
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.django_db


def current_totp(secret: str) -> str:
    counters = list(yield_hotp_counters_from_time())
    return f"{hotp_value(secret, counters[len(counters) // 2]):06d}"


def test_login_page_is_german_by_default(client):
    response = client.get(reverse("account_login"))
    assert response.status_code == 200
    assert response.headers["Content-Language"] == "de"
    assert "Anmelden" in response.text
    assert "Passwort vergessen?" in response.text


def test_language_switch_to_english(client):
    client.post(reverse("set_language"), {"language": "en", "next": "/accounts/login/"})
    response = client.get(reverse("account_login"))
    assert response.headers["Content-Language"] == "en"
    assert "Sign In" in response.text


def test_there_is_no_open_sign_up(client):
    response = client.post(
        reverse("account_signup"),
        {
            "email": "eve@example.org",
            "password1": "a-very-long-password-1",
            "password2": "a-very-long-password-1",
        },
    )
    assert response.status_code == 200
    assert "account/signup_closed.html" in [t.name for t in response.templates]
    assert not User.objects.filter(email="eve@example.org").exists()


def test_role_holder_without_second_factor_is_sent_to_mfa_setup(client, tree):
    user = make_user("ohne-mfa@example.org", tree.sn, "board", mfa=False)
    client.force_login(user)
    response = client.get(reverse("members:division_detail", args=[tree.sn.pk]))
    assert response.status_code == 302
    assert response.url == reverse("mfa_index")
    response = client.get(reverse("admin:index"))
    assert response.url == reverse("mfa_index")


def test_htmx_request_without_second_factor_is_redirected_by_header(client, tree):
    user = make_user("ohne-mfa@example.org", tree.sn, "board", mfa=False)
    client.force_login(user)
    response = client.get(
        reverse("members:division_detail", args=[tree.sn.pk]), headers={"HX-Request": "true"}
    )
    assert response.status_code == 403
    assert response.headers["HX-Redirect"] == reverse("mfa_index")


@pytest.mark.django_db(transaction=True)  # allauth announces the new factor after commit
def test_after_totp_setup_the_personal_data_page_opens(client, tree):
    user = make_user("ohne-mfa@example.org", tree.sn, "board", mfa=False)
    client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
    page = reverse("members:division_roles", args=[tree.sn.pk])
    assert client.get(page).status_code == 302

    response = client.get(reverse("mfa_activate_totp"))
    assert response.status_code == 302  # allauth asks for the password again first
    client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    assert client.get(reverse("mfa_activate_totp")).status_code == 200
    secret = client.session[SECRET_SESSION_KEY]
    response = client.post(reverse("mfa_activate_totp"), {"code": current_totp(secret)})
    assert response.status_code == 302

    response = client.get(page)
    assert response.status_code == 200
    assert user.email in response.text


def test_member_without_a_role_needs_no_second_factor(client, tree):
    plain = make_user("mitglied@example.org", None, None, mfa=False)
    client.force_login(plain)
    response = client.get(reverse("members:dashboard"))
    assert response.status_code == 200
    assert "noch keine Rolle" in response.text


def test_login_with_totp_reaches_the_dashboard(client, tree):
    user = make_user("mit-mfa@example.org", tree.sn, "board", mfa=False)
    from tests.factories import enable_totp

    secret = enable_totp(user)
    response = client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
    assert response.url == reverse("mfa_authenticate")
    response = client.post(reverse("mfa_authenticate"), {"code": current_totp(secret)})
    assert response.url == reverse("members:dashboard")
    response = client.get(reverse("members:dashboard"), follow=True)
    assert response.redirect_chain == [
        (reverse("members:division_detail", args=[user.role_assignments.get().division_id]), 302)
    ]
    assert "Landesverband Sachsen" in response.text


def test_failed_logins_are_rate_limited(client, tree):
    make_user("ziel@example.org", tree.sn, "board")
    for _ in range(5):
        response = client.post(
            reverse("account_login"), {"login": "ziel@example.org", "password": "falsch"}
        )
        assert response.status_code == 200
    # Even the right password is refused now, with a message saying why.
    response = client.post(
        reverse("account_login"), {"login": "ziel@example.org", "password": PASSWORD}
    )
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    assert response.context["form"].errors.as_data()["__all__"][0].code == "too_many_login_attempts"


def test_anonymous_visitor_is_sent_to_login(client, tree):
    response = client.get(reverse("members:division_detail", args=[tree.sn.pk]))
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))


def test_password_reset_mail_goes_through_the_outbox(
    client, tree, mailoutbox, django_capture_on_commit_callbacks
):
    make_user("vergessen@example.org", tree.sn, "viewer")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("account_reset_password"), {"email": "vergessen@example.org"})
    assert [m.to for m in mailoutbox] == [["vergessen@example.org"]]
    from outbox.models import OutboundEmail

    assert OutboundEmail.objects.get().status == OutboundEmail.Status.SENT


def test_a_password_alone_does_not_open_personal_data_even_with_a_factor(client, tree):
    user = make_user("nur-passwort@example.org", tree.sn, "board")  # has TOTP
    django_client = PlainClient()
    django_client.force_login(user)  # a session without the second step
    response = django_client.get(reverse("members:division_roles", args=[tree.sn.pk]))
    assert response.url == reverse("mfa_index")


def test_the_admin_login_is_allauths(client):
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response.url == reverse("account_login") + "?next=/admin/"


@pytest.mark.django_db(transaction=True)  # allauth announces the removed factor after commit
def test_removing_the_factor_sends_the_next_page_back_to_mfa_setup(client, tree):
    user = make_user("mit-mfa@example.org", tree.sn, "board", mfa=False)
    from tests.factories import enable_totp

    secret = enable_totp(user)
    client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
    client.post(reverse("mfa_authenticate"), {"code": current_totp(secret)})
    page = reverse("members:division_roles", args=[tree.sn.pk])
    assert client.get(page).status_code == 200
    assert client.get(page).status_code == 200  # the settled check, without the factor query

    client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    response = client.post(reverse("mfa_deactivate_totp"))
    assert response.status_code == 302
    assert not user.authenticator_set.exists()
    response = client.get(page)
    assert response.status_code == 302
    assert response.url == reverse("mfa_index")
