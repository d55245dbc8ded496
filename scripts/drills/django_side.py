"""The drills' work inside Django (run in a process with the drill's settings by Stack.python)."""

from __future__ import annotations

import json
from datetime import date

from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.db.models import Count

from members.models import Division, DivisionLevel, Member, Role, RoleAssignment, User

PASSWORD = "drill-password-1"


def boards(count: int) -> list[dict]:
    """`count` board members of the states, round the states (largest first), each with a
    password and an authenticator app (TOTP); with what their pages need."""
    sizes = dict(Member.objects.values_list("state").annotate(n=Count("pk")))
    states = sorted(
        Division.objects.filter(level=DivisionLevel.STATE),
        key=lambda state: (-sizes.get(state.pk, 0), state.code),
    )
    users = []
    for i in range(count):
        state = states[i % len(states)]
        email = f"drill-board-{i:03d}@example.org"
        user = User.objects.filter(email=email).first()
        if user is None:
            user = User.objects.create_user(email=email, password=PASSWORD, first_name=f"Drill {i}")
            RoleAssignment.objects.create(
                user=user, division=state, role=Role.BOARD, valid_from=date(2020, 1, 1)
            )
        user.authenticator_set.all().delete()
        secret = generate_totp_secret()
        TOTP.activate(user, secret)
        members = list(
            Member.objects.filter(state=state).order_by("?").values("pk", "last_name")[:50]
        )
        users.append(
            {
                "email": email,
                "secret": secret,
                "state": state.pk,
                "members": [m["pk"] for m in members],
                "names": sorted({m["last_name"] for m in members})[:20],
            }
        )
    return users


def dump_boards(count: int) -> None:
    print(json.dumps(boards(count)))
