from members.views.divisions import (
    dashboard,
    division_detail,
    division_roles,
    healthz,
    role_grant,
    role_revoke,
)
from members.views.register import member_detail, member_list
from members.views.requests import (
    request_consent,
    request_entry,
    request_for_member,
    request_list,
)

__all__ = [
    "dashboard",
    "division_detail",
    "division_roles",
    "healthz",
    "member_detail",
    "member_list",
    "request_consent",
    "request_entry",
    "request_for_member",
    "request_list",
    "role_grant",
    "role_revoke",
]
