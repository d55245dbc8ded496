"""Postal vote and check-in: idempotent, and never a vote tied to a member."""

import io
from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from assemblies import postal, services
from assemblies.models import Assembly, Attendance, Ballot
from finance.models import Charge
from members import services as members
from tests.factories import make_member

pytestmark = pytest.mark.django_db


def _member(division, **values):
    member = make_member(division, **values)
    members.activate_members([member.pk], reason="first dues", on=date(2020, 1, 1))
    return member


@pytest.fixture
def frozen(tree, board_sn):
    assembly = Assembly.objects.create(
        division=tree.sn,
        kind="members",
        title="Mitgliederversammlung",
        starts_at=timezone.now() + timedelta(days=30),
        place="Leipzig",
        cutoff_on=timezone.localdate(),
        postal_deadline=timezone.now() + timedelta(days=20),
    )
    assembly.eligible = [_member(tree.leipzig, last_name=f"Wahl{i}") for i in range(3)]
    assembly.owing = _member(tree.dresden, last_name="Schuldner")
    Charge.objects.create(
        member=assembly.owing,
        year=2026,
        amount=120,
        due_on=date(2026, 3, 1),
        overdue_on=date(2026, 3, 31),
    )
    services.freeze(assembly=assembly, by=board_sn)
    return assembly


def test_check_digits_find_typing_errors():
    body = "1234567"
    number = body + postal.check_digit(body)
    assert postal.valid_number(number)
    for i in range(len(number)):
        wrong = number[:i] + str((int(number[i]) + 1) % 10) + number[i + 1 :]
        assert not postal.valid_number(wrong)


def test_ballots_for_the_eligible_and_returns_counted_once(client, frozen, board_sn):
    client.force_login(board_sn)
    url = reverse("assemblies:assembly_postal", args=[frozen.pk])
    client.post(url, {"create": "1"})
    client.post(url, {"create": "1"})  # a second run adds nobody
    ballots = {b.member_id: b.number for b in Ballot.objects.filter(assembly=frozen)}
    assert set(ballots) == {m.pk for m in frozen.eligible}
    assert all(postal.valid_number(n) for n in ballots.values())
    assert len(set(ballots.values())) == 3

    first = ballots[frozen.eligible[0].pk]
    client.post(url, {"number": first})
    client.post(url, {"number": f" {first[:4]} {first[4:]} "})  # scanned again, with spaces
    assert postal.record_return(assembly=frozen, number=first, by=board_sn) == "already"
    mistyped = first[:-1] + str((int(first[-1]) + 1) % 10)
    assert postal.record_return(assembly=frozen, number=mistyped, by=board_sn) == "mistyped"
    stranger = next(
        n
        for n in (f"{b}{postal.check_digit(b)}" for b in map(str, range(1000000, 1000100)))
        if n not in ballots.values()
    )
    assert postal.record_return(assembly=frozen, number=stranger, by=board_sn) == "unknown"
    counts = postal.counts(frozen)
    assert (counts.sent, counts.returned, counts.valid, counts.late) == (3, 1, 1, 0)

    # The first envelope came two days ago; the deadline passed yesterday.
    Ballot.objects.filter(number=first).update(arrived_on=timezone.localdate() - timedelta(days=2))
    frozen.postal_deadline = timezone.now() - timedelta(days=1)
    frozen.save()
    late = ballots[frozen.eligible[1].pk]
    assert postal.record_return(assembly=frozen, number=late, by=board_sn) == "late"
    after = postal.counts(frozen)
    assert after.late == 1 and after.valid == after.returned - 1

    # Only the envelope's return is kept: a ballot has no field for a vote.
    assert {f.name for f in Ballot._meta.get_fields()} == {
        "id",
        "assembly",
        "member",
        "number",
        "returned_at",
        "arrived_on",
    }
    sheet = client.get(reverse("assemblies:assembly_dispatch", args=[frozen.pk]))
    rows = list(
        load_workbook(io.BytesIO(b"".join(sheet.streaming_content))).active.iter_rows(
            min_row=2, values_only=True
        )
    )
    assert sorted(r[0] for r in rows) == sorted(ballots.values())


def test_check_in_is_idempotent_and_counts_the_eligible(client, frozen, board_sn):
    client.force_login(board_sn)
    page = client.get(reverse("assemblies:assembly_checkin", args=[frozen.pk]), {"q": "schuldner"})
    [entry] = page.context["entries"]
    assert entry.member_id == frozen.owing.pk and entry.reason == "arrears"
    assert "120,00" in page.text

    voter = frozen.eligible[0]
    url = reverse("assemblies:assembly_check_in", args=[frozen.pk, voter.pk])
    json = {"HTTP_ACCEPT": "application/json"}
    first = client.post(url, **json).json()
    again = client.post(url, **json).json()  # the connection dropped: the phone sends again
    assert (first["created"], again["created"]) == (True, False)
    assert again["eligible_present"] == 1
    client.post(reverse("assemblies:assembly_check_in", args=[frozen.pk, frozen.owing.pk]), **json)
    count = client.get(reverse("assemblies:assembly_presence", args=[frozen.pk])).json()
    assert count == {"eligible_present": 1, "present": 2, "eligible": 3}
    assert Attendance.objects.count() == 2

    by_number = client.get(
        reverse("assemblies:assembly_checkin", args=[frozen.pk]),
        {"q": str(voter.membership_number)},
    )
    assert [e.present for e in by_number.context["entries"]] == [True]
    stranger = make_member(frozen.division)
    missing = reverse("assemblies:assembly_check_in", args=[frozen.pk, stranger.pk])
    assert client.post(missing).status_code == 404


def test_check_in_page_keeps_its_queries_constant(client, frozen, board_sn, tree):
    client.force_login(board_sn)
    url = reverse("assemblies:assembly_checkin", args=[frozen.pk])
    client.get(url)  # the session's first request reads what later ones find cached
    with CaptureQueriesContext(connection) as few:
        assert len(client.get(url, {"q": "wahl"}).context["entries"]) == 3
    for i in range(15):
        _member(tree.leipzig, last_name=f"Wahl-extra{i}")
    services.freeze(assembly=frozen, by=board_sn)
    with CaptureQueriesContext(connection) as many:
        assert len(client.get(url, {"q": "wahl"}).context["entries"]) == 18
    assert len(many) == len(few) <= 8


def test_a_ballot_of_a_member_no_longer_eligible_is_not_counted(frozen, board_sn):
    postal.create_ballots(assembly=frozen, by=board_sn)
    dropped = frozen.eligible[2]
    Charge.objects.create(
        member=dropped, year=2026, amount=60, due_on=date(2026, 3, 1), overdue_on=date(2026, 3, 31)
    )
    services.freeze(assembly=frozen, by=board_sn)  # re-frozen: no longer eligible
    for member in (frozen.eligible[0], dropped):
        number = Ballot.objects.get(member=member).number
        assert postal.record_return(assembly=frozen, number=number, by=board_sn) == "recorded"
    counts = postal.counts(frozen)
    assert (counts.returned, counts.valid, counts.ineligible, counts.late) == (2, 1, 1, 0)


def test_envelopes_count_by_the_day_they_arrived_not_the_day_they_are_opened(
    client, frozen, board_sn
):
    postal.create_ballots(assembly=frozen, by=board_sn)
    frozen.postal_deadline = timezone.now() - timedelta(days=3)
    frozen.save()
    in_time, late = (Ballot.objects.get(member=m).number for m in frozen.eligible[:2])
    client.force_login(board_sn)
    url = reverse("assemblies:assembly_postal", args=[frozen.pk])
    arrived = (timezone.localdate() - timedelta(days=3)).isoformat()
    response = client.post(url, {"number": in_time, "arrived_on": arrived})
    assert response.url.endswith(f"?arrived_on={arrived}")  # the pile's day stays for the next
    client.post(url, {"number": late})  # arrived today
    counts = postal.counts(frozen)
    assert (counts.returned, counts.valid, counts.late) == (2, 1, 1)


def test_the_door_sees_who_voted_by_post(client, frozen, board_sn):
    postal.create_ballots(assembly=frozen, by=board_sn)
    voter = frozen.eligible[0]
    postal.record_return(
        assembly=frozen, number=Ballot.objects.get(member=voter).number, by=board_sn
    )
    client.force_login(board_sn)
    page = client.get(
        reverse("assemblies:assembly_checkin", args=[frozen.pk]), {"q": voter.last_name}
    )
    assert [e.voted_by_post for e in page.context["entries"]] == [True]
    assert "text-bg-warning" in page.text
