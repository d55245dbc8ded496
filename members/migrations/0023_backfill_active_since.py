"""Members activated before `active_since` existed (0020) get the day they became active, read
from their versions (the first that says active after one that said pending) and their
payments (the booking day of the last dues payment by then, as the payments code sets it). Without
it, a member who was still pending at an assembly's cut-off and paid before this upgrade would
count as active long before (assemblies.eligibility). Members who were never pending on record
keep none: active since they came in."""

from django.db import migrations
from django.utils import timezone


def backfill(apps, schema_editor):
    Member = apps.get_model("members", "Member")
    MemberVersion = apps.get_model("members", "MemberVersion")
    once_pending = set(
        MemberVersion.objects.filter(values__status="pending")
        .values_list("member_id", flat=True)
        .distinct()
    )
    candidates = list(
        Member.objects.filter(pk__in=once_pending, status="active", active_since__isnull=True)
        .values_list("pk", flat=True)
    )
    for start in range(0, len(candidates), 2000):
        batch = candidates[start : start + 2000]
        became: dict[int, object] = {}
        seen_pending: set[int] = set()
        for member_id, values, recorded_at in (
            MemberVersion.objects.filter(member_id__in=batch)
            .order_by("member_id", "version")
            .values_list("member_id", "values", "recorded_at")
        ):
            status = values.get("status")
            if status == "pending":
                seen_pending.add(member_id)
            elif status == "active" and member_id in seen_pending and member_id not in became:
                became[member_id] = timezone.localdate(recorded_at)
        # As the payments code does it: active from the booking day of the last dues payment
        # by then (a statement imported late knows its own date), else the day recorded.
        Payment = apps.get_model("finance", "Payment")
        paid: dict[int, list] = {}
        for member_id, booked_on in Payment.objects.filter(
            member_id__in=list(became), purpose="dues"
        ).values_list("member_id", "booked_on"):
            paid.setdefault(member_id, []).append(booked_on)
        for member_id, day in became.items():
            before = [booked for booked in paid.get(member_id, []) if booked <= day]
            Member.objects.filter(pk=member_id).update(active_since=max(before, default=day))


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0022_member_email_index"),
        ("finance", "0018_settle_earlier_shares"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
