"""Security headers and the strict CSP: no inline script anywhere."""

import os
import re

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script>", re.S | re.I)


def inline_scripts(html: str) -> list[str]:
    found = []
    for attrs, body in SCRIPT.findall(html):
        if "src=" in attrs or "application/json" in attrs:
            continue
        if body.strip():
            found.append(body.strip()[:80])
    return found


def test_csp_forbids_inline_scripts_and_foreign_hosts(client):
    response = client.get(reverse("account_login"))
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "default-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    "name",
    [
        "members:dashboard",
        "members:division_detail",
        "members:division_roles",
        "members:role_grant",
        "mfa_index",
        "admin:index",
    ],
)
def test_pages_have_no_inline_script_and_no_cdn(client, tree, board_sn, federal_admin, name):
    # A board with one division is sent on to its dashboard; the federal office sees the page.
    user = federal_admin if name in ("admin:index", "members:dashboard") else board_sn
    client.force_login(user)
    args = (
        [tree.sn.pk] if name.startswith("members:division") or name == "members:role_grant" else []
    )
    response = client.get(reverse(name, args=args))
    assert response.status_code == 200
    html = response.text
    assert inline_scripts(html) == []
    assert not re.search(r"(src|href)=\"https?://", html), "assets must come from the app itself"


def test_static_assets_are_served_by_the_app(client):
    html = client.get(reverse("account_login")).text
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
        response = client.get(asset)
        assert response.status_code == 200, asset


def test_health_check_answers_without_login(client):
    response = client.get("/healthz")
    assert response.status_code == 200, response.json()
    assert response.json()["database"]["ok"] and response.json()["broker"]["ok"]


def test_favicon_request_is_answered(client):
    response = client.get("/favicon.ico", follow=True)
    assert response.status_code == 200


def test_servers_refuse_to_start_without_production_settings():
    import os
    import subprocess
    import sys

    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {"DJANGO_DEBUG", "DJANGO_SECRET_KEY", "MUSTERROLLE_SITE_URL", "MUSTERROLLE_TESTING"}
    }
    result = subprocess.run(
        [sys.executable, "-c", "import config.wsgi"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY, MUSTERROLLE_SITE_URL must be set" in result.stderr
    # ... while management commands such as makemigrations still run.
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert "musterrolle.E001" in result.stderr + result.stdout


def _deploy_check(**extra: str) -> str:
    import subprocess
    import sys

    env = {
        **{k: v for k, v in os.environ.items() if k not in {"MUSTERROLLE_TESTING", "MAIL_BACKEND"}},
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "a-long-and-random-enough-secret-key-for-this-check-only-0123456789",
        "MUSTERROLLE_SITE_URL": "https://mitglieder.example.org",
        **extra,
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout + result.stderr


def test_deploy_check_refuses_production_without_a_usable_mail_transport():
    smtp_without_host = _deploy_check()
    assert "musterrolle.E002" in smtp_without_host
    assert "OPTIONS must define 'host'" in smtp_without_host
    esp_without_key = _deploy_check(MAIL_BACKEND="anymail.backends.postmark.EmailBackend")
    assert "musterrolle.E002" in esp_without_key
    assert "server_token" in esp_without_key
    assert "musterrolle.E002" in _deploy_check(
        MAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"
    )
    assert "musterrolle.E002" not in _deploy_check(
        MAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        MAIL_OPTIONS='{"host": "smtp.example.org", "port": 587}',
    )
    assert "musterrolle.E002" not in _deploy_check(
        MAIL_BACKEND="anymail.backends.postmark.EmailBackend",
        ANYMAIL='{"POSTMARK_SERVER_TOKEN": "token"}',
    )
