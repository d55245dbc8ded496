import os
import shutil
from datetime import datetime
from zoneinfo import ZoneInfo

import django.test
import pytest
import time_machine
from django.core.cache import cache

from members.middleware import SESSION_FLAG
from tests.factories import Tree, build_tree, make_user

# Playwright's sync API runs an event loop in the test thread.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


class Client(django.test.Client):
    """force_login stands for a complete login, second factor included."""

    def force_login(self, user, backend=None):
        super().force_login(user, backend)
        session = self.session
        session[SESSION_FLAG] = True
        session.save()


@pytest.fixture
def client():
    return Client()


@pytest.fixture(autouse=True)
def _anymail_test_backend(settings):
    """E-mail goes through django-anymail's test backend: sent messages land in
    django.core.mail.outbox, with the provider's status and message id set."""
    settings.MAILERS = {"default": {"BACKEND": "anymail.backends.test.EmailBackend"}}


@pytest.fixture(autouse=True)
def _clear_cache():
    # allauth keeps its rate limits in the cache; with Redis they would leak between tests.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def tree(db) -> Tree:
    return build_tree()


@pytest.fixture
def board_sn(tree):
    return make_user("vorstand-sn@example.org", tree.sn, "board")


@pytest.fixture
def board_sh(tree):
    return make_user("vorstand-sh@example.org", tree.sh, "board")


@pytest.fixture
def board_leipzig(tree):
    return make_user("kv-leipzig@example.org", tree.leipzig, "board")


@pytest.fixture
def treasurer_sn(tree):
    return make_user("schatz-sn@example.org", tree.sn, "treasurer")


@pytest.fixture
def federal_admin(tree):
    return make_user("bund@example.org", None, None, federal=True)


NEW_YEAR = datetime(2026, 1, 1, 9, 0, tzinfo=ZoneInfo("Europe/Berlin"))


@pytest.fixture
def new_year():
    """Freeze "today" at 1 January 2026, 09:00 in Berlin (the clock keeps ticking)."""
    with time_machine.travel(NEW_YEAR, tick=True):
        yield NEW_YEAR.date()
