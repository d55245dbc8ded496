"""The fee policy the register enforces, supplied by the app that owns the fee rules.

`members` imports no app built on it (DESIGN.md), yet a fee class, tier or reduction entered
here must obey the finance order. Finance registers its policy at start-up; without one,
anything is accepted (as in a project that has no finance app).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any, NamedTuple, Protocol


class FeePolicy(Protocol):
    def tiers(self, on: date) -> list[Decimal]:
        """The yearly amounts a regular member chooses from on a day (empty: any amount)."""
        ...

    def amounts(self, on: date) -> dict[str, Decimal]:
        """The yearly amount of each fee class on a day (the regular one without a tier)."""
        ...

    def validate(
        self,
        values: Mapping[str, Any],
        *,
        on: date,
        granting: bool = True,
        changed: Collection[str] | None = None,
    ) -> None:
        """Raise ValidationError (by field) if fee class, tier, reduction and date of birth
        do not go together on `on`; `granting`: the class is being granted now (a change),
        not brought in as it was; `changed`: the fields that change (None: all are new)."""
        ...


class _AnythingGoes:
    def tiers(self, on: date) -> list[Decimal]:
        return []

    def amounts(self, on: date) -> dict[str, Decimal]:
        return {}

    def validate(
        self,
        values: Mapping[str, Any],
        *,
        on: date,
        granting: bool = True,
        changed: Collection[str] | None = None,
    ) -> None:
        return None


_policy: FeePolicy = _AnythingGoes()


def set_fee_policy(policy: FeePolicy) -> None:
    global _policy
    _policy = policy


def fee_policy() -> FeePolicy:
    return _policy


class MandatePolicy(Protocol):
    """A direct-debit mandate a board asks the federal office to record (a change request of
    kind "mandate"): the app that keeps mandates checks the values when the request is made
    and records the mandate when it is approved."""

    labels: Mapping[str, str]  # the proposed values' labels, for the request's pages

    def check(self, member: Any, values: Mapping[str, Any]) -> dict[str, Any]:
        """The values cleaned, as JSON (raise ValidationError by field if they will not do)."""
        ...

    def record(self, member: Any, values: Mapping[str, Any], by: Any) -> None:
        """Record the mandate (the federal office approving the request)."""
        ...


_mandates: MandatePolicy | None = None


def set_mandate_policy(policy: MandatePolicy | None) -> None:
    global _mandates
    _mandates = policy


def mandate_policy() -> MandatePolicy | None:
    """None where no app keeps mandates: boards cannot ask for one then."""
    return _mandates


class DuesLedger(Protocol):
    """What members owed on a day, as the app that keeps the ledger knows it (charges due by
    then, payments booked by then): an assembly's cut-off asks it."""

    def owed_on(self, member_ids: Sequence[int] | None, on: date) -> dict[int, Owed]:
        """The members (these ids, or everyone for None) who owed dues on `on`: the amount
        and, once the grace period had run out, the day the arrears began."""
        ...


class Owed(NamedTuple):
    amount: Decimal  # positive: what was owed
    since: date | None  # in arrears since (None: still within the grace period)


_ledger: DuesLedger | None = None


def set_dues_ledger(ledger: DuesLedger | None) -> None:
    global _ledger
    _ledger = ledger


def dues_ledger() -> DuesLedger | None:
    """None where no app keeps a ledger: then nobody owes anything."""
    return _ledger
