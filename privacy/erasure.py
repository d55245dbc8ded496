"""Erasure on request, for people who are not members: a declined candidate, someone whose
address only received e-mails (an onboarding message, a login invitation).

`find(address)` is the preview and writes nothing; `erase(address, digest)` erases what the
preview showed, or nothing if that changed. A member's data is not erased this way: the
register keeps it while the membership runs, and retention removes it after.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from members.models import Member, RoleAssignment, User
from onboarding.models import OPEN_STATES, Candidate, CandidateState
from outbox.models import OutboundEmail
from privacy.models import ErasureLog
from privacy.retention import erase_account


@dataclass
class Found:
    address: str
    members: list[Member] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)
    open_candidates: list[Candidate] = field(default_factory=list)
    emails: int = 0
    account: User | None = None
    account_blocked: str = ""  # why the account stays

    @property
    def refused(self) -> bool:
        return bool(self.members or self.open_candidates)

    @property
    def empty(self) -> bool:
        return not (self.candidates or self.emails or self.account)

    def digest(self) -> str:
        text = repr(
            (
                self.address,
                sorted(c.pk for c in self.candidates),
                self.emails,
                self.account.pk if self.account else None,
            )
        )
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _emails(address: str):
    return OutboundEmail.objects.filter(to__icontains=address).exclude(
        status=OutboundEmail.Status.QUEUED
    )


def find(address: str) -> Found:
    address = address.strip().lower()
    found = Found(address=address)
    if not address:
        return found
    found.members = list(Member.objects.filter(email__iexact=address)[:5])
    for candidate in Candidate.objects.filter(email__iexact=address).order_by("pk"):
        if candidate.state in OPEN_STATES or candidate.state == CandidateState.ADMITTED:
            found.open_candidates.append(candidate)
        else:
            found.candidates.append(candidate)
    found.emails = sum(
        1 for to in _emails(address).values_list("to", flat=True) if address in map(str.lower, to)
    )
    account = User.objects.filter(email__iexact=address).first()
    if account is not None:
        if account.is_staff or account.is_superuser:
            found.account_blocked = "staff"
        elif RoleAssignment.objects.filter(user=account).exists():
            found.account_blocked = "roles"
        else:
            found.account = account
    return found


class ErasureRefused(Exception):
    pass


@transaction.atomic
def erase(address: str, digest: str) -> Found:
    found = find(address)
    if found.refused or found.digest() != digest:
        raise ErasureRefused
    today = timezone.localdate()
    numbers = ",".join(f"K{c.pk}" for c in found.candidates)
    for candidate in found.candidates:
        candidate.delete()
    ids = [
        pk
        for pk, to in _emails(found.address).values_list("pk", "to")
        if found.address in map(str.lower, to)
    ]
    OutboundEmail.objects.filter(pk__in=ids).delete()
    if found.account is not None:
        erase_account(found.account)
    count = len(found.candidates) + len(ids) + (found.account is not None)
    ErasureLog.objects.create(
        number=numbers[:40],
        done_on=today,
        kind=ErasureLog.Kind.REQUEST,
        count=count,
    )
    return found
