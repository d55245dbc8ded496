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

__all__ = [
    "AuditEntry",
    "Division",
    "DivisionLevel",
    "DivisionQuerySet",
    "Role",
    "RoleAssignment",
    "RoleAssignmentQuerySet",
    "User",
    "UserManager",
]
