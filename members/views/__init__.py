from members.views.divisions import (
    dashboard,
    division_detail,
    division_roles,
    role_grant,
    role_revoke,
)
from members.views.register import division_choices, member_detail, member_list
from members.views.requests import (
    request_consent,
    request_entry,
    request_for_member,
    request_list,
)
from members.views.transfers import (
    import_apply,
    import_detail,
    import_discard,
    import_errors,
    import_new,
    import_progress,
    import_values,
    member_export,
)

__all__ = [
    "dashboard",
    "division_choices",
    "division_detail",
    "division_roles",
    "import_apply",
    "import_detail",
    "import_discard",
    "import_errors",
    "import_new",
    "import_progress",
    "import_values",
    "member_detail",
    "member_export",
    "member_list",
    "request_consent",
    "request_entry",
    "request_for_member",
    "request_list",
    "role_grant",
    "role_revoke",
]
