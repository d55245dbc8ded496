from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django import forms
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from members import queries, stats
from members.models import (
    Division,
    EndReason,
    FeeClass,
    Member,
    MemberQuerySet,
    MemberStatus,
    PaymentStatus,
    Role,
    User,
)
from members.policy import fee_policy


class DateInput(forms.DateInput):
    """The browser's date picker; it shows the user's locale but speaks ISO dates."""

    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs=attrs, format="%Y-%m-%d")


class GrantRoleForm(forms.Form):
    email = forms.EmailField(
        label=_("E-mail address"),
        help_text=_("Someone without an account gets an invitation to set a password."),
    )
    first_name = forms.CharField(label=_("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    role = forms.ChoiceField(label=_("Role"))
    valid_from = forms.DateField(label=_("Valid from"), widget=DateInput())
    valid_until = forms.DateField(
        label=_("Valid until"),
        required=False,
        widget=DateInput(),
        help_text=_("Leave empty for no end date."),
    )

    def __init__(self, *args: Any, roles: list[Role], **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"valid_from": timezone.localdate()})
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = [(role.value, role.label) for role in roles]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("valid_from"), data.get("valid_until")
        if start and end and end < start:
            self.add_error("valid_until", _("The end date lies before the start date."))
        return data


# --- The member list -------------------------------------------------------------------

SORTS: dict[str, tuple[str, ...]] = {
    "name": ("last_name", "first_name", "membership_number"),
    "-name": ("-last_name", "-first_name", "-membership_number"),
    "number": ("membership_number",),
    "-number": ("-membership_number",),
    "joined": ("joined_on", "membership_number"),
    "-joined": ("-joined_on", "-membership_number"),
    "city": ("city", "last_name", "membership_number"),
    "-city": ("-city", "-last_name", "-membership_number"),
}

STATUS_VALUES = {
    "current": [MemberStatus.PENDING, MemberStatus.ACTIVE],
    "active": [MemberStatus.ACTIVE],
    "pending": [MemberStatus.PENDING],
    "ended": [MemberStatus.ENDED],
    "all": list(MemberStatus),
}
STATUS_FILTERS = {
    "current": ~Q(status=MemberStatus.ENDED),
    "active": Q(status=MemberStatus.ACTIVE),
    "pending": Q(status=MemberStatus.PENDING),
    "ended": Q(status=MemberStatus.ENDED),
    "all": Q(),
}


def _unindexed(field: str) -> Any:
    name = field.lstrip("-")
    if name in {"last_name", "first_name", "city"}:
        expression = Lower(name)
    elif name == "membership_number":
        expression = F(name) + 0
    else:
        return field
    return expression.desc() if field.startswith("-") else expression.asc()


class MemberFilterForm(forms.Form):
    q = forms.CharField(
        label=_("Search"),
        required=False,
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": _("Name, number, e-mail, postal code or city")}
        ),
    )
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[
            ("current", _("current members")),
            ("active", _("active")),
            ("pending", _("pending")),
            ("ended", _("ended")),
            ("all", _("all")),
        ],
    )
    fee_class = forms.ChoiceField(
        label=_("Fee class"), required=False, choices=[("", _("all")), *FeeClass.choices]
    )
    division = forms.IntegerField(label=_("Sub-division"), required=False, widget=forms.HiddenInput)
    payment = forms.ChoiceField(
        label=_("Dues"), required=False, choices=[("", _("all")), *PaymentStatus.choices]
    )
    sort = forms.ChoiceField(
        required=False, choices=[(key, key) for key in SORTS], widget=forms.HiddenInput
    )

    def __init__(self, *args: Any, user: User, within: Division, **kwargs: Any) -> None:
        """`within`: the division whose members are listed (sub-divisions of it may be chosen);
        `finance`: whether the user may see payment status (and filter by it)."""
        self.finance = kwargs.pop("finance", False)
        super().__init__(*args, **kwargs)
        self.user = user
        self.within = within
        self.fields["division"].widget = DivisionPicker(within=within, allow_all=True)

    def clean_division(self) -> int | None:
        pk = self.cleaned_data.get("division")
        self._selected = queries.sub_division(self.user, self.within, pk) if pk else None
        if pk and self._selected is None:
            raise forms.ValidationError(_("This sub-division cannot be chosen here."))
        self.fields["division"].widget.selected = self._selected
        return pk

    @property
    def selected_division(self) -> Division | None:
        """The chosen sub-division (a stale one drops only itself)."""
        self.is_valid()
        return getattr(self, "_selected", None)

    def filter(self, qs: MemberQuerySet) -> MemberQuerySet:
        self.is_valid()
        data = self.cleaned_data  # the valid ones: a stale parameter drops only itself
        qs = qs.filter(STATUS_FILTERS[data.get("status") or "current"])
        if data.get("fee_class"):
            qs = qs.filter(fee_class=data["fee_class"])
        if data.get("payment") and self.finance:
            qs = qs.filter(payment_status=data["payment"])
        if self.selected_division is not None:
            qs = qs.filter(division__path__startswith=self.selected_division.path)
        ordering = SORTS[data.get("sort") or "name"]
        if data.get("q"):
            # Within a state, the search index reads only that state's matches: the list is
            # narrowed by the state column (access.member_subtree_q).
            qs = qs.search(data["q"][:100])
            # Matches are few: let the database find them through the search index and sort
            # them, instead of walking the whole name index in order (which it prefers, and
            # which is slow for names late in the alphabet).
            ordering = tuple(_unindexed(field) for field in ordering)
        return qs.order_by(*ordering)

    @property
    def searching(self) -> bool:
        self.is_valid()
        return bool(self.cleaned_data.get("q"))

    def count_from_figures(self) -> int | None:
        """The number of members the filter leaves, from the register figures, where only
        the status and the sub-division narrow the list (else None: the query must count)."""
        self.is_valid()
        data = self.cleaned_data
        if data.get("q") or data.get("fee_class") or (data.get("payment") and self.finance):
            return None
        return stats.members_now(
            self.selected_division or self.within, STATUS_VALUES[data.get("status") or "current"]
        )

    @property
    def current_sort(self) -> str:
        self.is_valid()
        return self.cleaned_data.get("sort") or "name"


# --- Change requests -------------------------------------------------------------------


def _not_in_future(value: date) -> None:
    if value > timezone.localdate():
        raise forms.ValidationError(_("The date may not lie in the future."))


def _german_postal_code(form: forms.Form, data: dict[str, Any]) -> None:
    code = (data.get("postal_code") or "").strip()
    if data.get("country", "DE") == "DE" and code and not (code.isdigit() and len(code) == 5):
        form.add_error("postal_code", _("A German postal code has five digits."))


def note_field() -> forms.CharField:
    return forms.CharField(
        label=_("Note for the federal office"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


CONTACT_FIELDS = ["first_name", "last_name", "email", "phone", "street", "postal_code", "city"]


class ContactForm(forms.ModelForm):
    """Proposes new contact data; only what differs from the record is requested."""

    note = note_field()

    class Meta:
        model = Member
        fields = CONTACT_FIELDS

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        _german_postal_code(self, data)
        if not self.changed_data or self.changed_data == ["note"]:
            raise forms.ValidationError(_("Nothing has changed."))
        return data

    def proposed(self) -> dict[str, Any]:
        return {
            field: self.cleaned_data[field]
            for field in self.changed_data
            if field in CONTACT_FIELDS
        }


class MandateRequestForm(forms.Form):
    """A signed SEPA mandate the board sends the federal office to record; the app that keeps
    mandates checks it (members.policy.mandate_policy) before the request goes out."""

    mandate_holder = forms.CharField(label=_("Account holder"), max_length=70)
    mandate_iban = forms.CharField(
        label=_("IBAN"), max_length=42, widget=forms.TextInput(attrs={"autocomplete": "off"})
    )
    mandate_signed_on = forms.DateField(
        label=_("Signed on"), widget=DateInput(), validators=[_not_in_future]
    )
    mandate_monthly = forms.BooleanField(
        label=_("Collect monthly"),
        required=False,
        help_text=_("Monthly instalments from 36 € a year, from the next dues charged."),
    )
    note = note_field()

    def __init__(self, *args: Any, member: Member, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.member = member

    def clean(self) -> dict[str, Any]:
        from members.policy import mandate_policy

        data = super().clean()
        policy = mandate_policy()
        if policy is not None and not self.errors:
            try:
                self.checked = policy.check(self.member, self.proposed_raw())
            except forms.ValidationError as error:
                self.add_error(None, error)  # by field where the check names one
        return data

    def proposed_raw(self) -> dict[str, Any]:
        return {
            field: self.cleaned_data.get(field)
            for field in ("mandate_holder", "mandate_iban", "mandate_signed_on", "mandate_monthly")
        }

    def proposed(self) -> dict[str, Any]:
        return getattr(self, "checked", None) or self.proposed_raw()


class EntryForm(forms.ModelForm):
    division = forms.ModelChoiceField(label=_("Division"), queryset=Division.objects.none())
    joined_on = forms.DateField(
        label=_("Joined on"), widget=DateInput(), validators=[_not_in_future]
    )
    note = note_field()

    class Meta:
        model = Member
        fields = [
            *CONTACT_FIELDS,
            "date_of_birth",
            "fee_class",
            "reduced_until",
            "newsletter_consent",
        ]
        widgets = {"date_of_birth": DateInput(), "reduced_until": DateInput()}

    def __init__(self, *args: Any, divisions: Any, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"joined_on": timezone.localdate()})
        super().__init__(*args, **kwargs)
        self.fields["division"].queryset = divisions
        self.fields["division"].label_from_instance = lambda d: (
            "\u2003" * max(d.depth - 2, 0) + d.name
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        _german_postal_code(self, data)
        born = data.get("date_of_birth")
        if born and not date(1900, 1, 1) <= born <= timezone.localdate():
            self.add_error("date_of_birth", _("Please check the date of birth."))
        return data

    def proposed(self) -> dict[str, Any]:
        return {field: self.cleaned_data[field] for field in self.Meta.fields}


class DatedRequestForm(forms.Form):
    """A request that takes effect on a day, today or in the past."""

    effective_on = forms.DateField(
        label=_("Effective on"), widget=DateInput(), validators=[_not_in_future]
    )
    note = note_field()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"effective_on": timezone.localdate()})
        super().__init__(*args, **kwargs)


class ExitForm(DatedRequestForm):
    end_reason = forms.ChoiceField(
        label=_("Reason"),
        choices=[
            (r.value, r.label) for r in (EndReason.EXIT, EndReason.DEATH, EndReason.INELIGIBLE)
        ],
        help_text=_("Striking off and expulsion are decided by the federal office."),
    )
    field_order = ["end_reason", "effective_on", "note"]

    def proposed(self) -> dict[str, Any]:
        return {"end_reason": self.cleaned_data["end_reason"]}


class TransferForm(DatedRequestForm):
    target_division = forms.ModelChoiceField(
        label=_("New division"),
        queryset=Division.objects.exclude(level="federal").order_by("path"),
        help_text=_("A move to another state needs that state's consent or the federal office."),
    )
    field_order = ["target_division", "effective_on", "note"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["target_division"].widget = DivisionPicker()

    def proposed(self) -> dict[str, Any]:
        return {}


class FeeClassForm(forms.Form):
    fee_class = forms.ChoiceField(label=_("New fee class"), choices=FeeClass.choices)
    dues_tier = forms.DecimalField(
        label=_("Yearly dues tier (€)"),
        required=False,
        min_value=0,
        max_digits=7,
        decimal_places=2,
        help_text=_("For the regular class: the amount chosen by income."),
    )
    reduced_until = forms.DateField(
        label=_("Reduced until"),
        required=False,
        widget=DateInput(),
        help_text=_("A reduction is granted for at most a year; then the regular class applies."),
    )
    note = note_field()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        tiers = fee_policy().tiers(timezone.localdate())
        if tiers:  # the finance order's tiers, to choose from
            self.fields["dues_tier"] = forms.TypedChoiceField(
                label=self.fields["dues_tier"].label,
                help_text=self.fields["dues_tier"].help_text,
                required=False,
                coerce=Decimal,
                empty_value=None,
                choices=[("", _("the rule's amount"))]
                + [(_plain(tier), f"{_plain(tier)} €") for tier in tiers],
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("fee_class") != FeeClass.REDUCED:
            data["reduced_until"] = None
        return data

    def proposed(self) -> dict[str, Any]:
        proposed: dict[str, Any] = {"fee_class": self.cleaned_data["fee_class"]}
        if self.cleaned_data.get("dues_tier") is not None:
            proposed["dues_tier"] = self.cleaned_data["dues_tier"]
        if self.cleaned_data.get("reduced_until"):
            proposed["reduced_until"] = self.cleaned_data["reduced_until"]
        return proposed


def _plain(amount: Decimal) -> str:
    """120.00 -> "120", 72.50 -> "72.5": how people write a tier."""
    text = f"{amount:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


class DivisionPicker(forms.Widget):
    """A division chosen by searching for it: the page carries only the chosen one, matches
    come from the server as you type (a state has hundreds of chapters, Germany thousands).
    Radio buttons, so that the form works with the keyboard and without any script of ours.
    """

    template_name = "members/widgets/division_picker.html"

    def __init__(self, *, within: Division | None = None, allow_all: bool = False) -> None:
        super().__init__()
        self.within = within
        self.allow_all = allow_all
        self.selected: Division | None = None

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        selected = self.selected
        # Below a division the form resolves the choice within what the user may see; a
        # transfer may go anywhere, so its target is simply looked up.
        if selected is None and self.within is None and value not in (None, ""):
            try:
                selected = Division.objects.filter(pk=int(value)).first()
            except (TypeError, ValueError):
                selected = None
        params = {"field": name, "all": "1" if self.allow_all else ""}
        if self.within is not None:
            params["within"] = str(self.within.pk)
        context["widget"]["picker"] = {
            "choices": [selected] if selected else [],
            "selected": selected.pk if selected else None,
            "allow_all": self.allow_all,
            "url": f"{reverse('members:division_choices')}?{urlencode(params)}",
        }
        return context

    def value_from_datadict(self, data: Any, files: Any, name: str) -> Any:
        return data.get(name)
