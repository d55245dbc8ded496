from __future__ import annotations

import logging
from typing import Any

from allauth.account.models import EmailAddress
from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _
from treebeard.admin import TreeAdmin
from treebeard.forms import movenodeform_factory

from members import access, access_log, services
from members.admin_register import ReadOnlyRecordAdmin  # importing registers the register's admins
from members.models import AccessLog, AuditEntry, Division, Member, Role, RoleAssignment, User

logger = logging.getLogger(__name__)


@admin.register(Division)
class DivisionAdmin(TreeAdmin):
    """The tree is the federal office's: a division moved elsewhere takes its members' data
    with it, so nobody else adds, changes, moves or deletes divisions."""

    form = movenodeform_factory(Division, fields=["name", "code", "level"])
    list_display = ["name", "code", "level"]
    list_filter = ["level"]
    search_fields = ["name", "code"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Division]:
        return access.scope_divisions(
            super().get_queryset(request), request.user, access.Action.VIEW_DIVISION
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return access.has_global_access(request.user) and super().has_add_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return access.has_global_access(request.user) and super().has_change_permission(
            request, obj
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return access.has_global_access(request.user) and super().has_delete_permission(
            request, obj
        )

    def save_model(self, request: HttpRequest, obj: Division, form: Any, change: bool) -> None:
        before = Division.objects.filter(pk=obj.pk).values_list("path", flat=True).first()
        super().save_model(request, obj, form, change)
        obj.refresh_from_db()
        moved = change and before != obj.path
        services.record_audit(
            actor=request.user,
            action="division.changed" if change else "division.added",
            obj=obj,
            division=obj,
            summary=f"{obj} {'changed' if change else 'added'} in the admin"
            + (" (moved)" if moved else ""),
            data={"changed": form.changed_data, "moved": moved},
        )
        if moved:
            _recount_after_move()

    def move_node(self, request: HttpRequest) -> HttpResponse:
        if not access.has_global_access(request.user):
            raise PermissionDenied
        with transaction.atomic():
            response = super().move_node(request)
            if response.status_code == 200:
                # Boards see members by their state column (access.member_subtree_q): it
                # follows the tree in the same transaction, not after a task.
                services.fill_states()
        if response.status_code == 200:
            node = Division.objects.get(pk=request.POST["node"])
            services.record_audit(
                actor=request.user,
                action="division.changed",
                obj=node,
                division=node,
                summary=f"{node} moved in the admin",
                data={"moved": True, "target": request.POST.get("target")},
            )
            _recount_after_move()
        return response


def _recount_after_move() -> None:
    """Events are counted for every division above: after a move the tree's sums change."""
    from members import tasks

    def dispatch() -> None:
        try:
            tasks.after_division_move.delay()
        except Exception:  # the broker is down: the nightly repair does the same
            logger.exception("Recounting after a division move could not be queued")

    transaction.on_commit(dispatch)


class InviteUserForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["email", "first_name", "last_name"]

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError(_("An account with this e-mail address exists already."))
        return email


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    add_form = InviteUserForm
    add_fieldsets = ((None, {"fields": ("email", "first_name", "last_name")}),)
    fieldsets = (
        (None, {"fields": ("email",)}),
        (_("Personal info"), {"fields": ("first_name", "last_name")}),
        (_("Permissions"), {"fields": ("is_active", "is_staff", "is_superuser", "groups")}),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    readonly_fields = ["last_login", "date_joined"]
    list_display = ["email", "first_name", "last_name", "is_staff", "is_active"]
    list_filter = ["is_staff", "is_active", "groups"]
    search_fields = ["email", "first_name", "last_name"]
    ordering = ["email"]
    filter_horizontal = ["groups"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        qs = super().get_queryset(request)
        return qs if access.has_global_access(request.user) else qs.none()

    def has_change_permission(self, request: HttpRequest, obj: User | None = None) -> bool:
        # Only a superuser changes (or sets the password of) another staff account.
        if obj is not None and obj.pk != request.user.pk and (obj.is_staff or obj.is_superuser):
            return request.user.is_superuser
        return super().has_change_permission(request, obj)

    def get_fieldsets(self, request: HttpRequest, obj: User | None = None) -> Any:
        if obj is None or request.user.is_superuser:
            return super().get_fieldsets(request, obj)
        # Only a superuser hands out staff status, superuser status and groups.
        return (
            (None, {"fields": ("email",)}),
            (_("Personal info"), {"fields": ("first_name", "last_name")}),
            (_("Permissions"), {"fields": ("is_active",)}),
            (_("Important dates"), {"fields": ("last_login", "date_joined")}),
        )

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            if "email" in form.changed_data:
                # The old address must stop working for login and password resets.
                EmailAddress.objects.filter(user=obj).delete()
                EmailAddress.objects.create(user=obj, email=obj.email, primary=True, verified=True)
            services.record_audit(
                actor=request.user,
                action="user.changed",
                obj=obj,
                summary=f"{obj.email} changed in the admin",
                data={"changed": form.changed_data},
            )
            return
        invited = services.invite_user(
            email=obj.email, first_name=obj.first_name, last_name=obj.last_name, by=request.user
        )
        obj.pk = invited.pk
        obj._state.adding = False
        obj.refresh_from_db()


class RoleAssignmentForm(forms.ModelForm):
    granter: User | None = None  # set by RoleAssignmentAdmin.get_form

    class Meta:
        model = RoleAssignment
        fields = ["user", "division", "role", "valid_from", "valid_until"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.instance.pk is None and self.granter and not self.errors:
            try:
                services.check_grant(
                    by=self.granter,
                    user=data["user"],
                    division=data["division"],
                    role=Role(data["role"]),
                    valid_from=data["valid_from"],
                    valid_until=data.get("valid_until"),
                )
            except (ValidationError, PermissionDenied) as error:
                raise forms.ValidationError(
                    str(error.message if hasattr(error, "message") else error)
                ) from error
        return data


@admin.register(RoleAssignment)
class RoleAssignmentAdmin(admin.ModelAdmin):
    form = RoleAssignmentForm
    list_display = ["user", "division", "role", "valid_from", "valid_until", "revoked_at"]
    list_filter = ["role", "division__level", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["user__email", "user__last_name", "division__name", "division__code"]
    autocomplete_fields = ["user", "division"]
    list_select_related = ["user", "division"]
    actions = ["revoke_selected"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[RoleAssignment]:
        return access.scope_by_division(
            super().get_queryset(request), request.user, access.Action.MANAGE_ROLES
        )

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        form.granter = request.user
        return form

    def get_readonly_fields(
        self, request: HttpRequest, obj: RoleAssignment | None = None
    ) -> list[str]:
        if obj is None:
            return []
        return [*self.form.Meta.fields, "granted_by", "granted_at", "revoked_by", "revoked_at"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # history stays; a role ends by being revoked

    def save_model(
        self, request: HttpRequest, obj: RoleAssignment, form: Any, change: bool
    ) -> None:
        if change:
            return  # every field is read-only once granted
        granted = services.grant_role(  # the form has run services.check_grant already
            by=request.user,
            division=obj.division,
            role=Role(obj.role),
            email=obj.user.email,
            valid_from=obj.valid_from,
            valid_until=obj.valid_until,
        )
        obj.pk = granted.pk

    @admin.action(description=_("Revoke selected roles"))
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[RoleAssignment]) -> None:
        revoked = 0
        for assignment in queryset.filter(revoked_at__isnull=True).select_related(
            "division", "user"
        ):
            services.revoke_role(by=request.user, assignment=assignment)
            revoked += 1
        self.message_user(request, _("%d roles revoked.") % revoked, messages.SUCCESS)


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyRecordAdmin):
    list_display = ["at", "actor", "action", "summary", "division"]
    list_filter = ["action"]
    search_fields = ["summary", "object_id", "actor__email"]
    list_select_related = ["actor", "division"]
    date_hierarchy = "at"

    def get_queryset(self, request: HttpRequest) -> QuerySet[AuditEntry]:
        qs = super().get_queryset(request)
        return qs if access.has_global_access(request.user) else qs.none()


@admin.register(AccessLog)
class AccessLogAdmin(ReadOnlyRecordAdmin):
    """Who saw whose data. Search with a membership number: who saw that member (their
    pages, the admin, and every export they were in); with an address: what that user saw."""

    list_display = ["at", "user", "kind", "member", "count", "detail"]
    list_filter = ["kind"]
    search_fields = ["user__email"]
    search_help_text = _(
        "A membership number: who saw that member. An e-mail address: what that user saw."
    )
    list_select_related = ["user", "member"]
    date_hierarchy = "at"
    show_full_result_count = False
    fields = ["at", "user", "kind", "member", "path", "detail", "count"]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[AccessLog]:
        qs = super().get_queryset(request).defer("member_ids")
        return qs if access.has_global_access(request.user) else qs.none()

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[AccessLog], search_term: str
    ) -> tuple[QuerySet[AccessLog], bool]:
        term = search_term.strip()
        if term.isdigit():
            member = Member.objects.visible_to(request.user).filter(membership_number=term).first()
            if member is None:
                return queryset.none(), False
            return queryset.filter(pk__in=access_log.about(member).values("pk")), False
        return super().get_search_results(request, queryset, term)
