"""Who a mailing reaches: the division's current members in scope, consent for newsletters."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.urls import reverse

from mailings import services, tracking
from mailings.models import Delivery, Mailing
from members import services as register
from members.models import EndReason
from tests.factories import make_member
from tests.mailings.conftest import write

pytestmark = pytest.mark.django_db


def _sent_to(mailing):
    return set(
        Delivery.objects.filter(mailing=mailing).values_list("member__first_name", flat=True)
    )


def _send(board, mailing):
    services.request_sending(by=board, mailing=mailing)
    mailing.refresh_from_db()
    return _sent_to(mailing)


def test_official_mailing_reaches_every_current_member_with_an_address(tree, board_sn, sachsen):
    mailing = write(board_sn, tree.sn)
    counts = services.count_audience(tree.sn, mailing.kind, {}, board_sn)
    assert (counts.recipients, counts.without_email, counts.suppressed) == (3, 1, 0)
    # Not Dora (no address), not Emil (left), not Kai (Schleswig-Holstein).
    assert _send(board_sn, mailing) == {"Anna", "Bernd", "Clara"}
    assert mailing.total == 3


def test_newsletter_reaches_only_members_who_consented(tree, board_sn, sachsen):
    mailing = write(board_sn, tree.sn, kind="newsletter")
    counts = services.count_audience(tree.sn, "newsletter", {}, board_sn)
    assert (counts.recipients, counts.without_consent) == (2, 1)
    assert _send(board_sn, mailing) == {"Anna", "Clara"}


def test_audience_narrowed_to_a_sub_division_and_fee_class(tree, board_sn, sachsen):
    make_member(tree.leipzig, first_name="Frieda", fee_class="reduced")
    mailing = write(board_sn, tree.sn, audience={"divisions": [tree.leipzig.pk]})
    assert services.count_audience(tree.sn, "official", mailing.audience, board_sn).recipients == 3
    reduced = write(
        board_sn, tree.sn, audience={"divisions": [tree.leipzig.pk], "fee_classes": ["reduced"]}
    )
    assert _send(board_sn, reduced) == {"Frieda"}
    assert _send(board_sn, mailing) == {"Anna", "Bernd", "Frieda"}


def test_payment_status_narrows_the_audience(tree, board_sn, sachsen):
    register.set_payment_states({sachsen["anna"].pk: (-120, "in_arrears", None)})
    mailing = write(board_sn, tree.sn, audience={"payment_statuses": ["in_arrears"]})
    assert _send(board_sn, mailing) == {"Anna"}


def test_suppressed_addresses_are_counted_apart_and_not_sent_to(tree, board_sn, sachsen):
    tracking.suppress(sachsen["anna"].email.upper(), "bounced", "550 no such user")
    counts = services.count_audience(tree.sn, "official", {}, board_sn)
    assert (counts.recipients, counts.suppressed) == (2, 1)
    assert _send(board_sn, write(board_sn, tree.sn)) == {"Bernd", "Clara"}


def test_a_district_board_reaches_only_its_district(tree, board_leipzig, sachsen):
    mailing = write(board_leipzig, tree.leipzig)
    assert _send(board_leipzig, mailing) == {"Anna", "Bernd"}
    with pytest.raises(PermissionDenied):
        write(board_leipzig, tree.sn)


# --- A Sachsen sender cannot reach Schleswig-Holstein, whatever it tries -------------------


def test_services_refuse_a_foreign_division_or_filter(tree, sender_sn, sachsen):
    with pytest.raises(PermissionDenied):
        write(sender_sn, tree.sh)
    with pytest.raises(ValidationError):
        write(sender_sn, tree.sn, audience={"divisions": [tree.kiel.pk]})
    with pytest.raises(ValidationError):
        write(sender_sn, tree.sn, audience={"divisions": [tree.leipzig.pk, tree.sh.pk]})
    with pytest.raises(ValidationError):
        services.count_audience(tree.sn, "official", {"divisions": [tree.kiel.pk]}, sender_sn)


def test_crafted_requests_cannot_reach_schleswig_holstein(client, tree, sender_sn, sachsen):
    client.force_login(sender_sn)
    post = {
        "kind": "official",
        "sender_name": "LV",
        "reply_to": "lv@example.org",
        "subject": "Hallo",
        "body": "Text",
    }
    assert client.get(reverse("mailings:mailing_new", args=[tree.sh.pk])).status_code == 404
    assert client.post(reverse("mailings:mailing_new", args=[tree.sh.pk]), post).status_code == 404
    assert client.get(reverse("mailings:audience_count", args=[tree.sh.pk])).status_code == 404
    crafted = client.get(
        reverse("mailings:audience_count", args=[tree.sn.pk]),
        {"kind": "official", "divisions": [tree.kiel.pk]},
    )
    assert crafted.status_code == 400
    response = client.post(
        reverse("mailings:mailing_new", args=[tree.sn.pk]), {**post, "divisions": [tree.kiel.pk]}
    )
    assert response.status_code == 200  # the form again, with an error
    assert not Mailing.objects.exists()

    # The sender's own mailing, sent, reaches Sachsen only.
    client.post(reverse("mailings:mailing_new", args=[tree.sn.pk]), post)
    mailing = Mailing.objects.get()
    client.post(reverse("mailings:mailing_send", args=[mailing.pk]))
    assert _sent_to(mailing) == {"Anna", "Bernd", "Clara"}


def test_a_mailing_sender_may_not_filter_by_payment_status(client, tree, sender_sn, sachsen):
    """Payment status is finance data: the filter is not offered, a crafted one ignored."""
    client.force_login(sender_sn)
    page = client.get(reverse("mailings:mailing_new", args=[tree.sn.pk]))
    assert b'name="payment_statuses"' not in page.content
    register.set_payment_states({sachsen["anna"].pk: (-120, "in_arrears", None)})
    response = client.get(
        reverse("mailings:audience_count", args=[tree.sn.pk]),
        {"kind": "official", "payment_statuses": ["in_arrears"]},
    )
    assert response.status_code == 200
    assert b">3<" in response.content  # everyone, not just the one in arrears


def test_live_count_updates_with_the_filters(client, tree, board_sn, sachsen):
    client.force_login(board_sn)
    url = reverse("mailings:audience_count", args=[tree.sn.pk])
    assert b">3<" in client.get(url, {"kind": "official"}).content
    assert b">2<" in client.get(url, {"kind": "newsletter"}).content
    assert b">1<" in client.get(url, {"kind": "newsletter", "divisions": [tree.leipzig.pk]}).content


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the audience counts are PostgreSQL's figures"
)
def test_the_counts_from_figures_equal_the_members_after_every_kind_of_write(
    tree, board_sn, federal_admin, sachsen
):
    federal = federal_admin
    from mailings import audience as figures
    from mailings.models import Suppression
    from members.models import FeeClass, Member

    anna, bernd, clara = sachsen["anna"], sachsen["bernd"], sachsen["clara"]
    register.update_member(by=None, member=anna, changes={"email": "ANNA@Example.org"})
    register.update_member(by=None, member=bernd, changes={"newsletter_consent": True})
    register.update_member(
        by=None,
        member=clara,
        changes={"fee_class": FeeClass.REDUCED, "reduced_until": date(2027, 6, 30)},
    )
    register.transfer_member(by=None, member=bernd, to=tree.dresden, on=date(2026, 1, 1))
    make_member(tree.leipzig, first_name="Fritz", email="")
    # Bulk writes past the services: the payment states of the nightly job, an import's rows.
    register.set_payment_states({anna.pk: (Decimal("-120"), "in_arrears", date(2026, 3, 1))})
    Member.objects.bulk_create(
        [
            Member(
                membership_number=990000 + n,
                first_name=f"Bulk{n}",
                last_name="Import",
                email=f"bulk{n}@example.org" if n % 2 else "",
                newsletter_consent=bool(n % 3),
                division=tree.leipzig_sued,
                joined_on=date(2024, 1, 1),
            )
            for n in range(7)
        ]
    )
    register.fill_states()  # as after every bulk write
    register.end_membership(
        by=None, member=sachsen["kiel"], on=date(2026, 2, 1), reason=EndReason.EXIT
    )
    Suppression.objects.create(email="anna@example.org", reason="bounced")
    Suppression.objects.create(email="bulk1@example.org", reason="complained")
    Suppression.objects.create(email=clara.email.lower(), reason="bounced")
    Suppression.objects.filter(email=clara.email.lower()).delete()  # lifted again

    assert figures.repair(fix=False) == 0
    audiences = [
        {},
        {"divisions": [tree.leipzig.pk]},
        {"fee_classes": ["reduced"]},
        {"payment_statuses": ["in_arrears"]},
        {"divisions": [tree.dresden.pk], "payment_statuses": ["paid_up"]},
    ]
    for division in (tree.sn, tree.leipzig):
        for kind in ("official", "newsletter"):
            for audience in audiences if division == tree.sn else audiences[:1]:
                assert services.count_audience(
                    division, kind, audience, board_sn
                ) == services._count_members(division, kind, audience, board_sn), (
                    division,
                    kind,
                    audience,
                )
    # A district moves to another state: the sums above it follow.
    from members.models import Division
    from members.tasks import after_division_move

    Division.objects.move(tree.dresden, tree.sh, "last-child")
    after_division_move.delay()
    sn, sh = Division.objects.get(pk=tree.sn.pk), Division.objects.get(pk=tree.sh.pk)
    for state in (sn, sh):
        assert services.count_audience(state, "official", {}, federal) == (
            services._count_members(state, "official", {}, federal)
        )
    assert services.count_audience(sh, "official", {}, federal).recipients == 2  # Clara, Bernd
    Division.objects.move(Division.objects.get(pk=tree.dresden.pk), sn, "last-child")
    after_division_move.delay()

    everyone = services.count_audience(tree.sn, "official", {}, board_sn)
    assert (everyone.suppressed, everyone.without_email) == (
        2,
        1 + 1 + 4,
    )  # Dora, Fritz, four of the bulk rows


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the audience counts are PostgreSQL's figures"
)
def test_the_weekly_repair_puts_drifted_audience_figures_right(tree, board_sn, sachsen):
    from mailings import audience as figures
    from mailings.models import AudienceFigure
    from mailings.tasks import repair_audience_figures

    before = services.count_audience(tree.sn, "official", {}, board_sn)
    AudienceFigure.objects.filter(division=tree.sn).update(count=40)
    assert services.count_audience(tree.sn, "official", {}, board_sn) != before
    repair_audience_figures.delay()
    assert services.count_audience(tree.sn, "official", {}, board_sn) == before
    assert figures.repair(fix=False) == 0
