from datetime import UTC, date, datetime
from decimal import ROUND_DOWN, Decimal

from django.conf import settings
from django.db import migrations, models

CENT = Decimal("0.01")
STEPLEN = 4  # the path step of members.Division (treebeard)


def settle_earlier_shares(apps, schema_editor):
    """Dues booked before the split was recorded were split and paid out by hand: they get
    their shares here (by the member's state and district today, the best this database
    knows; no district part), tied to one carried-over payout per state, so that no later
    payout pays them again. A database without such payments (a new one) stays as it is."""
    Payment = apps.get_model("finance", "Payment")
    Share = apps.get_model("finance", "Share")
    Payout = apps.get_model("finance", "Payout")
    Division = apps.get_model("members", "Division")
    rows = list(
        Payment.objects.filter(purpose="dues", member__isnull=False, share__isnull=True)
        .exclude(match="divided")
        .exclude(method="opening")
        .values_list("pk", "amount", "booked_on", "member__state_id", "member__division__path")
    )
    if not rows:
        return
    districts = dict(Division.objects.filter(level="district").values_list("path", "pk"))
    percent = Decimal(str(getattr(settings, "MUSTERROLLE_FEDERAL_SHARE_PERCENT", 50)))
    shares = []
    totals = {}
    for pk, amount, booked_on, state_id, path in rows:
        if state_id is None:
            federal = amount
        else:
            federal = (abs(amount) * percent / 100).quantize(CENT, rounding=ROUND_DOWN)
            federal = federal if amount >= 0 else -federal
            totals[state_id] = totals.get(state_id, Decimal(0)) + amount - federal
        shares.append(
            Share(
                payment_id=pk,
                booked_on=booked_on,
                state_id=state_id,
                district_id=districts.get((path or "")[: 3 * STEPLEN]),
                amount=amount,
                federal_amount=federal,
                state_amount=amount - federal,
                district_amount=Decimal(0),
            )
        )
    Share.objects.bulk_create(shares, batch_size=2000)
    for state_id, total in totals.items():
        payout = Payout.objects.create(
            quarter=date(1970, 1, 1),
            state_id=state_id,
            state_amount=total,
            district_amount=Decimal(0),
            carried_over=True,
        )
        # Long before any statement: no month reports it as paid out.
        Payout.objects.filter(pk=payout.pk).update(recorded_at=datetime(1970, 1, 1, tzinfo=UTC))
        Share.objects.filter(state_id=state_id, payout__isnull=True).update(payout=payout)


class Migration(migrations.Migration):
    dependencies = [
        ("finance", "0017_contribution_receipts"),
        ("members", "0019_mandate_request"),
    ]

    operations = [
        migrations.AddField(
            model_name="payout",
            name="carried_over",
            field=models.BooleanField(
                default=False, verbose_name="settled before payouts were recorded"
            ),
        ),
        migrations.RunPython(settle_earlier_shares, migrations.RunPython.noop),
    ]
