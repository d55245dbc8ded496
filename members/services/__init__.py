"""Every write to the register, divisions, accounts and roles.

Each service is keyword-only, owns its transaction and writes its audit entry.
"""

from members.services.accounts import (
    add_division,
    check_grant,
    grant_role,
    invite_user,
    record_audit,
    revoke_role,
)
from members.services.register import (
    activate_members,
    admit_member,
    end_membership,
    fill_states,
    set_payment_states,
    transfer_member,
    update_member,
)
from members.services.requests import (
    ChangeRequestError,
    StaleChangeRequest,
    approve_change_request,
    consent_to_transfer,
    reject_change_request,
    submit_change_request,
)

__all__ = [
    "ChangeRequestError",
    "StaleChangeRequest",
    "activate_members",
    "add_division",
    "admit_member",
    "approve_change_request",
    "check_grant",
    "consent_to_transfer",
    "end_membership",
    "fill_states",
    "grant_role",
    "invite_user",
    "record_audit",
    "reject_change_request",
    "revoke_role",
    "set_payment_states",
    "submit_change_request",
    "transfer_member",
    "update_member",
]
