"""A realistic synthetic register in PostgreSQL, written with COPY.

Members are spread over the 16 states by population, live in districts and local chapters,
and have ten years of history: entries, transfers and exits, each with its periods and
register versions, as the services would have written them.
"""

from __future__ import annotations

import json
import random
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from finance.models import FeeRule
from finance.services import months_of_membership
from members import figures, services
from members.demo_data import STATE_WEIGHTS, person
from members.models import Division, DivisionLevel, Member, NumberSequence

MARKER = "bench-register-v3"  # raise when the generator changes: the data is made anew
YEARLY = {
    "regular": Decimal("120.00"),
    "reduced": Decimal("36.00"),
    "minor": Decimal("12.00"),
    "exempt": Decimal("0.00"),
}
CHAPTERS_PER_DISTRICT = 8


def _district_count(code: str) -> int:
    return max(3, round(STATE_WEIGHTS[code] * 2.5))


def ensure_register(total: int) -> float | None:
    """Build the register unless one of this size is there; returns seconds taken, or None."""
    marker = NumberSequence.objects.filter(name=MARKER).first()
    if marker and marker.last_value == total and Member.objects.count() == total:
        return None
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE finance_payment, finance_charge, finance_monthlystatement, finance_bankstatement, "
            "members_memberversion, members_membershipperiod, members_changerequest, "
            "members_member, members_auditentry, members_roleassignment, members_division, "
            "mailings_outboundemail, members_numbersequence RESTART IDENTITY CASCADE"
        )
    call_command("seed_demo", members=0, stdout=open("/dev/null", "w"))  # noqa: SIM115
    FeeRule.objects.all().delete()
    for fee_class, amount in YEARLY.items():
        FeeRule.objects.create(
            fee_class=fee_class, yearly_amount=amount, valid_from=date(2000, 1, 1)
        )
    leaves = _divisions()
    _members(total, leaves)
    # Written with COPY, past the services that keep states and count every change.
    services.fill_states()
    figures.repair()
    with connection.cursor() as cursor:
        # As autovacuum would in production: statistics and the visibility map.
        cursor.execute("VACUUM ANALYZE")
    NumberSequence.objects.update_or_create(name=MARKER, defaults={"last_value": total})
    return time.monotonic() - started


@transaction.atomic
def _divisions() -> dict[str, list[int]]:
    """Districts and chapters below each state, in bulk; returns member-carrying ids per state."""
    rows: list[Division] = []
    for state in Division.objects.filter(level=DivisionLevel.STATE):
        existing = state.numchild
        for number in range(existing + 1, _district_count(state.code) + 1):
            path = Division._get_path(state.path, 3, number)
            rows.append(
                Division(
                    path=path,
                    depth=3,
                    numchild=CHAPTERS_PER_DISTRICT,
                    name=f"Kreisverband {state.code} {number}",
                    code=f"{state.code}-K{number}",
                    level=DivisionLevel.DISTRICT,
                )
            )
            for chapter in range(1, CHAPTERS_PER_DISTRICT + 1):
                rows.append(
                    Division(
                        path=Division._get_path(path, 4, chapter),
                        depth=4,
                        numchild=0,
                        name=f"Ortsverband {state.code} {number}.{chapter}",
                        code=f"{state.code}-K{number}-{chapter}",
                        level=DivisionLevel.LOCAL,
                    )
                )
        state.numchild = max(existing, _district_count(state.code))
        state.save(update_fields=["numchild"])
    Division.objects.bulk_create(rows, batch_size=2000)
    states = {d.path: d.code for d in Division.objects.filter(level=DivisionLevel.STATE)}
    leaves: dict[str, list[int]] = {code: [] for code in states.values()}
    for pk, path in Division.objects.filter(
        level__in=[DivisionLevel.DISTRICT, DivisionLevel.LOCAL]
    ).values_list("pk", "path"):
        leaves[states[path[: Division.steplen * 2]]].append(pk)
    return leaves


def _day(rng: random.Random, start: date, end: date) -> date:
    return start + timedelta(days=rng.randint(0, max((end - start).days, 0)))


def _members(total: int, leaves: dict[str, list[int]]) -> None:
    rng = random.Random(7)
    today = timezone.localdate()
    now = timezone.now()
    start = today - timedelta(days=3650)
    codes = list(STATE_WEIGHTS)
    weights = [STATE_WEIGHTS[c] for c in codes]
    first_id = 1
    first_number = 100001
    chunk = 50_000
    with connection.cursor() as cursor:
        raw = cursor.connection
        for offset in range(0, total, chunk):
            rows: dict[str, list[tuple]] = {
                "members": [],
                "periods": [],
                "versions": [],
                "charges": [],
                "payments": [],
            }
            for i in range(offset, min(offset + chunk, total)):
                _one(
                    rng,
                    first_id + i,
                    first_number + i,
                    codes,
                    weights,
                    leaves,
                    start,
                    today,
                    now,
                    rows,
                )
            for sql, key in COPIES:
                with raw.cursor() as cur, cur.copy(sql) as copy:
                    for row in rows[key]:
                        copy.write_row(row)
        with raw.cursor() as cur:
            cur.execute(
                "SELECT setval(pg_get_serial_sequence('members_member', 'id'), %s)",
                [first_id + total],
            )
    NumberSequence.objects.update_or_create(
        name="membership", defaults={"last_value": first_number + total - 1}
    )


COPIES = [
    (
        "COPY members_member (id, membership_number, first_name, last_name, email, phone, street, "
        "postal_code, city, country, date_of_birth, division_id, status, end_reason, joined_on, left_on, "
        "fee_class, newsletter_consent, version, search_text, created_at, updated_at, balance, "
        "payment_status, arrears_since) FROM STDIN",
        "members",
    ),
    (
        "COPY finance_charge (member_id, year, kind, revision, amount, due_on, overdue_on, memo, created_at) "
        "FROM STDIN",
        "charges",
    ),
    (
        "COPY finance_payment (member_id, match, amount, booked_on, method, reference, counterparty_name, "
        "counterparty_iban, bank_reference, end_to_end_id, created_at, purpose, return_reason, proposal) "
        "FROM STDIN",
        "payments",
    ),
    (
        "COPY members_membershipperiod (member_id, division_id, started_on, start_kind, ended_on, end_kind) "
        "FROM STDIN",
        "periods",
    ),
    (
        'COPY members_memberversion (member_id, version, recorded_at, reason, "values", changes) FROM STDIN',
        "versions",
    ),
]


def _one(rng, member_id, number, codes, weights, leaves, start, today, now, rows) -> None:
    state = rng.choices(codes, weights)[0]
    divisions = leaves[state]
    joined = _day(rng, start + timedelta(days=int(3650 * (1 - rng.random() ** 0.7))), today)
    division = rng.choice(divisions)
    fields: dict[str, Any] = person(rng, state, today)
    origin = None
    moved = None
    if rng.random() < 0.08:
        moved = _day(rng, joined, today)
        origin = rng.choice(divisions)
        if origin == division:
            origin = None
    ended = None
    reason = ""
    if rng.random() < 0.15:
        ended = _day(rng, moved or joined, today)
        reason = rng.choices(["exit", "death", "struck_off"], weights=[85, 8, 7])[0]
    status = (
        "ended"
        if ended
        else ("pending" if (today - joined).days < 60 and rng.random() < 0.5 else "active")
    )
    version = 1 + (origin is not None) + (ended is not None)
    search = " ".join(
        p
        for p in [
            str(number),
            fields["last_name"],
            fields["first_name"],
            fields["email"],
            fields["postal_code"],
            fields["city"],
        ]
        if p
    ).lower()
    balance, payment_status, arrears_since = _ledger(
        rng,
        member_id,
        number,
        joined,
        ended,
        fields["fee_class"],
        today,
        now,
        rows,
        f"{fields['first_name']} {fields['last_name']}",
    )
    rows["members"].append(
        (
            member_id,
            number,
            fields["first_name"],
            fields["last_name"],
            fields["email"],
            fields["phone"],
            fields["street"],
            fields["postal_code"],
            fields["city"],
            "DE",
            fields["date_of_birth"],
            division,
            status,
            reason,
            joined,
            ended,
            fields["fee_class"],
            fields["newsletter_consent"],
            version,
            search,
            now,
            now,
            balance,
            payment_status,
            arrears_since,
        )
    )
    values = {
        **{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in fields.items()},
        "country": "DE",
        "division_id": origin or division,
        "status": "active",
        "end_reason": "",
        "joined_on": joined.isoformat(),
        "left_on": None,
    }
    recorded = datetime.combine(joined, datetime.min.time(), tzinfo=now.tzinfo)
    rows["versions"].append((member_id, 1, recorded, "Bench", json.dumps(values), "{}"))
    number_of_version = 1
    period_start, period_division = joined, origin or division
    if origin is not None:
        rows["periods"].append((member_id, origin, joined, "entry", moved, "transfer_out"))
        number_of_version += 1
        values["division_id"] = division
        rows["versions"].append(
            (
                member_id,
                number_of_version,
                datetime.combine(moved, datetime.min.time(), tzinfo=now.tzinfo),
                "Bench",
                json.dumps(values),
                json.dumps({"division_id": [origin, division]}),
            )
        )
        period_start, period_division = moved, division
    kind = "transfer_in" if origin is not None else "entry"
    rows["periods"].append((member_id, period_division, period_start, kind, ended, reason))
    if ended is not None:
        number_of_version += 1
        values.update(status="ended", left_on=ended.isoformat(), end_reason=reason)
        rows["versions"].append(
            (
                member_id,
                number_of_version,
                datetime.combine(ended, datetime.min.time(), tzinfo=now.tzinfo),
                "Bench",
                json.dumps(values),
                json.dumps({"status": ["active", "ended"]}),
            )
        )


def _ledger(rng, member_id, number, joined, ended, fee_class, today, now, rows, name):
    """Dues for up to ten years and, for most members, their payments; returns the state."""
    charged_total = paid_total = Decimal(0)
    first_unpaid = None
    pays = rng.random() < 0.85
    for year in range(max(joined.year, today.year - 9), today.year + 1):
        months = months_of_membership(joined_on=joined, left_on=ended, year=year)
        amount = (YEARLY[fee_class] * len(months) / 12).quantize(Decimal("0.01"))
        if not amount:
            continue
        due = max(date(year, 3, 1), joined)
        overdue = due + timedelta(days=30)
        rows["charges"].append(
            (member_id, year, "dues", 1, amount, due, overdue, f"Beitrag {year}", now)
        )
        if due > today:
            continue
        charged_total += amount
        if pays or year < today.year - 1:
            booked = min(due + timedelta(days=rng.randint(0, 60)), today)
            rows["payments"].append(
                (
                    member_id,
                    "number",
                    amount,
                    booked,
                    "transfer",
                    f"MB{year} {number}",
                    name,
                    "",
                    "",
                    "",
                    now,
                    "dues",
                    "",
                    "[]",
                )
            )
            if booked <= today:
                paid_total += amount
        elif first_unpaid is None and overdue <= today:
            first_unpaid = overdue
    balance = paid_total - charged_total
    if balance < 0 and first_unpaid is not None:
        return balance, "in_arrears", first_unpaid
    return balance, "exempt" if fee_class == "exempt" else "paid_up", None
