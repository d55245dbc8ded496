"""The upgrade to `active_since` (members 0023): members activated before it existed get the
day their record turned active; members never pending on record keep none."""

import importlib
from datetime import date
from decimal import Decimal

import pytest
from django.apps import apps
from django.utils import timezone

from finance.models import Payment
from members.models import Member, MemberStatus, MemberVersion
from members.services import activate_members
from tests.factories import make_member

pytestmark = pytest.mark.django_db

backfill = importlib.import_module("members.migrations.0023_backfill_active_since").backfill


def test_members_activated_before_the_field_existed_get_the_day_they_became_active(tree):
    paid = make_member(tree.leipzig)
    assert paid.status == MemberStatus.PENDING
    # Booked on 5 March, imported (and activated) only today.
    Payment.objects.create(member=paid, amount=Decimal("120.00"), booked_on=date(2026, 3, 5))
    activate_members([paid.pk], reason="first dues paid")
    unpaid = make_member(tree.leipzig)
    activate_members([unpaid.pk], reason="exempt from dues")
    always = make_member(tree.leipzig)
    # Came in active (a switch-over): no version of it ever said pending.
    for version in MemberVersion.objects.filter(member=always):
        version.values = {**version.values, "status": MemberStatus.ACTIVE}
        version.save(update_fields=["values"])
    still_pending = make_member(tree.leipzig)
    Member.objects.filter(pk=always.pk).update(status=MemberStatus.ACTIVE)
    Member.objects.update(active_since=None)  # as the release before 0020 left them

    backfill(apps, None)

    assert Member.objects.get(pk=paid.pk).active_since == date(2026, 3, 5)
    assert Member.objects.get(pk=unpaid.pk).active_since == timezone.localdate()
    assert Member.objects.get(pk=always.pk).active_since is None
    assert Member.objects.get(pk=still_pending.pk).active_since is None
