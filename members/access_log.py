"""Who saw whose data: the access log.

Views say what they showed (`note`); the middleware writes it in one insert once the page
was served. A member's page names the member; a list its query and how many members it
showed, never the rows; an export the ids of every member in it, compressed into one value.
Admin pages of a member, or of a record that belongs to one (a payment, a mandate), are noted
by the middleware itself.
"""

from __future__ import annotations

import sys
import zlib
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from itertools import accumulate
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from members.models import AccessKind, AccessLog, Member

_NOTE_ATTR = "_musterrolle_access"
_ID_TYPE = "I" if array("I").itemsize == 4 else "L"


def note(
    request: HttpRequest,
    kind: AccessKind,
    *,
    member: Member | int | None = None,
    count: int | None = None,
    detail: str = "",
    member_ids: Iterable[int] | None = None,
) -> None:
    """Say what this request shows; written once the response is a success."""
    setattr(
        request,
        _NOTE_ATTR,
        {
            "kind": kind,
            "member_id": member.pk if isinstance(member, Member) else member,
            "count": count,
            "detail": detail[:300],
            "member_ids": encode_ids(member_ids) if member_ids is not None else None,
        },
    )


def record(
    user: Any,
    kind: AccessKind,
    *,
    path: str = "",
    member: Member | int | None = None,
    count: int | None = None,
    detail: str = "",
    member_ids: Iterable[int] | None = None,
) -> AccessLog:
    """Write an access at once (commands, exports made outside a request)."""
    return AccessLog.objects.create(
        user=user if getattr(user, "is_authenticated", False) else None,
        kind=kind,
        path=path[:300],
        member_id=member.pk if isinstance(member, Member) else member,
        count=count,
        detail=detail[:300],
        member_ids=encode_ids(member_ids) if member_ids is not None else None,
    )


def encode_ids(ids: Iterable[int]) -> bytes:
    """Member ids, sorted, as the steps from one to the next (small numbers, alike), 32-bit,
    compressed: an export of half a million members takes a few hundred kB at most."""
    ordered = sorted(set(ids))
    steps = array(_ID_TYPE, [b - a for a, b in zip([0, *ordered], ordered, strict=False)])
    if sys.byteorder == "big":
        steps.byteswap()
    return zlib.compress(steps.tobytes(), 6)


def decode_ids(blob: bytes | memoryview | None) -> array:
    steps = array(_ID_TYPE)
    if blob:
        steps.frombytes(zlib.decompress(bytes(blob)))
        if sys.byteorder == "big":
            steps.byteswap()
    return array(_ID_TYPE, accumulate(steps))


def contains(blob: bytes | memoryview | None, member_id: int) -> bool:
    ids = decode_ids(blob)
    i = bisect_left(ids, member_id)
    return i < len(ids) and ids[i] == member_id


def about(member: Member) -> QuerySet[AccessLog]:
    """Every access to this member's data still kept: their pages, and exports with them."""
    exports = [
        pk
        for pk, blob in AccessLog.objects.filter(member_ids__isnull=False)
        .values_list("pk", "member_ids")
        .iterator(chunk_size=50)
        if contains(blob, member.pk)
    ]
    return AccessLog.objects.filter(Q(member=member) | Q(pk__in=exports))


def prune(now: datetime | None = None) -> int:
    """Delete what is older than the retention period; returns how many rows went."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=30 * settings.MUSTERROLLE_ACCESS_LOG_MONTHS)
    deleted, _ = AccessLog.objects.filter(at__lt=cutoff).delete()
    return deleted


def _admin_note(request: HttpRequest, response: HttpResponse) -> dict[str, Any] | None:
    """The admin's pages of members and of records belonging to one."""
    match = getattr(request, "resolver_match", None)
    model_admin = getattr(getattr(match, "func", None), "model_admin", None)
    if model_admin is None:
        return None
    model = model_admin.model
    name = match.url_name or ""
    belongs = model is Member or any(
        f.is_relation and f.related_model is Member and f.name == "member"
        for f in model._meta.concrete_fields
    )
    if not belongs:
        return None
    if name.endswith("_changelist"):
        changelist = (getattr(response, "context_data", None) or {}).get("cl")
        count = getattr(changelist, "result_count", None)
        detail = f"{model._meta.model_name} {request.GET.urlencode()}".strip()
        return {"kind": AccessKind.LIST, "count": count, "detail": detail}
    object_id = match.kwargs.get("object_id", "")
    if not (name.endswith(("_change", "_history")) and str(object_id).isdigit()):
        return None
    if model is Member:
        return {"kind": AccessKind.ADMIN, "member_id": int(object_id)}
    # Read in the same insert: the member of this payment, mandate or charge.
    member = Subquery(model._default_manager.filter(pk=object_id).values("member_id")[:1])
    return {"kind": AccessKind.ADMIN, "member_id": member}


class AccessLogMiddleware:
    """Writes what a successful request showed of members' data, in one insert."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not 200 <= response.status_code < 300:
            return response
        noted = getattr(request, _NOTE_ATTR, None)
        if noted is None and request.method == "GET":
            noted = _admin_note(request, response)
        if noted is not None:
            AccessLog.objects.create(user=user, path=request.get_full_path()[:300], **noted)
        return response
