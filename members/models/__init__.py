from members.models.accounts import User, UserManager
from members.models.audit import AuditEntry
from members.models.divisions import (
    Division,
    DivisionLevel,
    DivisionQuerySet,
    Role,
    RoleAssignment,
    RoleAssignmentQuerySet,
)
from members.models.figures import DivisionDay, DivisionMonth, DivisionTally
from members.models.register import (
    PERIOD_END_CHOICES,
    REGISTER_FIELDS,
    TRANSFER_OUT,
    EndReason,
    FeeClass,
    Member,
    MemberQuerySet,
    MembershipPeriod,
    MemberStatus,
    MemberVersion,
    NumberSequence,
    PaymentStatus,
    PeriodStart,
)
from members.models.requests import ChangeRequest, ChangeRequestQuerySet, RequestKind, RequestStatus
from members.models.transfers import (
    ExportLog,
    ImportBatch,
    ImportBatchQuerySet,
    ImportValueChoice,
)

__all__ = [
    "PERIOD_END_CHOICES",
    "REGISTER_FIELDS",
    "TRANSFER_OUT",
    "AuditEntry",
    "ChangeRequest",
    "ChangeRequestQuerySet",
    "Division",
    "DivisionDay",
    "DivisionLevel",
    "DivisionMonth",
    "DivisionQuerySet",
    "DivisionTally",
    "EndReason",
    "ExportLog",
    "FeeClass",
    "ImportBatch",
    "ImportBatchQuerySet",
    "ImportValueChoice",
    "Member",
    "MemberQuerySet",
    "MemberStatus",
    "MemberVersion",
    "MembershipPeriod",
    "NumberSequence",
    "PaymentStatus",
    "PeriodStart",
    "RequestKind",
    "RequestStatus",
    "Role",
    "RoleAssignment",
    "RoleAssignmentQuerySet",
    "User",
    "UserManager",
]
