"""What the register tells the apps built on it, inside the transaction of the change.

`members` imports none of them (DESIGN.md); finance listens here so that dues follow every
admission, end of membership and change of fee class, tier, reduction or date of birth in
the same transaction as the change itself.
"""

from django.dispatch import Signal

# Sent with member_ids (a list), since (the first day the change affects), by (a user or
# None for the system), event ("admission", "import" for a
# member of an existing register brought in, "change" or "end") and, for an admission,
# welcome (whether the new member is to be greeted by e-mail). Receivers run inside the register's transaction: an error in one
# undoes the change.
dues_relevant_change = Signal()

# Sent (no arguments) after a division moved in the tree and the register's own figures were
# recomputed: figures that count a member for every division above it must follow.
divisions_moved = Signal()
