"""Who saw whose data: one insert per request, lists by query and count, exports by their
members, the admin's member pages; answerable per member and per user; pruned after a year."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from finance.models import Payment
from members import access_log
from members.models import AccessKind, AccessLog
from privacy import retention
from tests.factories import make_member

pytestmark = pytest.mark.django_db
ACCESS_LOG_MIDDLEWARE = "members.access_log.AccessLogMiddleware"


def queries(client, url: str) -> tuple[int, int]:
    """Queries of a page, and of those the inserts into the access log."""
    client.get(url)  # settles the session
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    inserts = [
        q for q in ctx.captured_queries if q["sql"].startswith('INSERT INTO "members_accesslog"')
    ]
    return len(ctx.captured_queries), len(inserts)


@pytest.mark.parametrize(
    "page", ["member", "list", "finance", "admin_member", "admin_payment", "admin_payments"]
)
def test_the_log_costs_one_query_per_page(client, settings, tree, board_sn, federal_admin, page):
    member = make_member(tree.leipzig)
    payment = Payment.objects.create(member=member, amount=10, booked_on=timezone.localdate())
    user = federal_admin if page.startswith("admin") else board_sn
    url = {
        "member": reverse("members:member_detail", args=[member.pk]),
        "list": reverse("members:member_list", args=[tree.sn.pk]),
        "finance": reverse("finance:member_account", args=[member.pk]),
        "admin_member": reverse("admin:members_member_change", args=[member.pk]),
        "admin_payment": reverse("admin:finance_payment_change", args=[payment.pk]),
        "admin_payments": reverse("admin:finance_payment_changelist"),
    }[page]
    client.force_login(user)
    with_log, inserts = queries(client, url)
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != ACCESS_LOG_MIDDLEWARE]
    plain = type(client)()  # a new client loads the middleware anew
    plain.force_login(user)
    without_log, none = queries(plain, url)
    assert none == 0
    assert inserts == 1 and with_log == without_log + 1
    entry = AccessLog.objects.order_by("-pk").first()
    assert entry.user == user
    if page.endswith(("list", "payments")):
        assert entry.kind == AccessKind.LIST and entry.member is None and entry.count == 1
    else:
        assert entry.member == member


def test_a_list_logs_its_query_and_count_never_its_rows(client, tree, board_sn):
    for n in range(5):
        make_member(tree.leipzig, last_name=f"Meier{n}")
    client.force_login(board_sn)
    client.get(reverse("members:member_list", args=[tree.sn.pk]), {"q": "Meier"})
    entry = AccessLog.objects.get()
    assert (entry.kind, entry.count, entry.member_ids) == (AccessKind.LIST, 5, None)
    assert "q=Meier" in entry.detail


def test_a_page_that_fails_logs_nothing(client, tree, board_sh):
    member = make_member(tree.leipzig)
    client.force_login(board_sh)
    assert client.get(reverse("members:member_detail", args=[member.pk])).status_code == 404
    assert not AccessLog.objects.exists()


def test_who_saw_a_member_finds_the_export_they_were_in(client, tree, board_sn, federal_admin):
    seen = make_member(tree.leipzig, last_name="Gesehen")
    other = make_member(tree.dresden, last_name="Anders")
    client.force_login(board_sn)
    response = client.post(
        reverse("members:member_export", args=[tree.leipzig.pk]),
        {"purpose": "Einladung zum Parteitag", "file_format": "csv"},
    )
    b"".join(response.streaming_content)
    assert response.status_code == 200
    client.get(reverse("members:member_detail", args=[other.pk]))
    export = AccessLog.objects.get(kind=AccessKind.EXPORT)
    assert export.count == 1 and access_log.contains(export.member_ids, seen.pk)
    assert set(access_log.about(seen)) == {export}
    # The federal office asks in the admin: by membership number, and by the user's address.
    client.force_login(federal_admin)
    url = reverse("admin:members_accesslog_changelist")
    by_member = client.get(url, {"q": str(seen.membership_number)})
    assert [e.pk for e in by_member.context["cl"].result_list] == [export.pk]
    assert "Einladung zum Parteitag" in by_member.text
    by_user = client.get(url, {"q": board_sn.email})
    assert len(by_user.context["cl"].result_list) == 2


def test_the_ids_of_an_export_are_kept_compactly():
    ids = range(1, 500_001, 3)
    blob = access_log.encode_ids(ids)
    assert len(blob) < 200_000 and len(access_log.encode_ids(range(1, 500_001))) < 200
    assert access_log.contains(blob, 4) and not access_log.contains(blob, 5)
    assert list(access_log.decode_ids(blob)) == list(ids)


def test_the_log_is_pruned_after_its_period(tree, board_sn, settings):
    member = make_member(tree.leipzig)
    old = access_log.record(board_sn, AccessKind.PAGE, member=member)
    recent = access_log.record(board_sn, AccessKind.PAGE, member=member)
    AccessLog.objects.filter(pk=old.pk).update(at=timezone.now() - timedelta(days=400))
    assert retention.prune_access_log(timezone.localdate()) == 1
    assert list(AccessLog.objects.all()) == [recent]


def test_the_admins_search_for_a_member_is_logged(client, tree, federal_admin):
    make_member(tree.leipzig, last_name="Suchbar")
    client.force_login(federal_admin)
    response = client.get(
        reverse("admin:autocomplete"),
        {"app_label": "privacy", "model_name": "legalhold", "field_name": "member", "term": "Such"},
    )
    assert response.status_code == 200 and len(response.json()["results"]) == 1
    entry = AccessLog.objects.get()
    assert (entry.kind, entry.count, entry.detail) == (AccessKind.LIST, 1, "search Such")


def test_the_lists_of_members_a_mailing_missed_are_logged(client, tree, board_sn):
    make_member(tree.leipzig, email="")
    client.force_login(board_sn)
    assert client.get(reverse("mailings:bounced")).status_code == 200
    assert AccessLog.objects.get().kind == AccessKind.LIST
