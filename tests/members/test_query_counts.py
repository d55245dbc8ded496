"""Pages cost the same number of queries whether they show one row or many."""

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from members.models import RoleAssignment
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def count_queries(client, url: str) -> int:
    client.get(url)  # settles the session (the second-factor check is made once)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize(
    "name", ["members:division_roles", "members:division_detail", "members:dashboard"]
)
def test_query_count_does_not_grow_with_rows(client, tree, board_sn, name):
    url = reverse(name, args=[] if name == "members:dashboard" else [tree.sn.pk])
    client.force_login(board_sn)
    if name == "members:dashboard":  # with one division the start page redirects
        RoleAssignment.objects.create(
            user=board_sn, division=tree.sh, role="viewer", valid_from=date(2020, 1, 1)
        )
    make_user("eins@example.org", tree.leipzig, "viewer", mfa=False)
    few = count_queries(client, url)
    for i in range(30):
        make_user(
            f"person{i}@example.org",
            tree.dresden if i % 2 else tree.leipzig_sued,
            "viewer",
            mfa=False,
        )
    for division in [tree.leipzig, tree.dresden, tree.kiel, tree.leipzig_sued]:
        RoleAssignment.objects.create(
            user=board_sn, division=division, role="viewer", valid_from=date(2020, 1, 1)
        )
    assert count_queries(client, url) == few
