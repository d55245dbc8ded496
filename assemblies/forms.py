from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from assemblies.models import Assembly
from assemblies.seats import METHODS
from assemblies.services import FIELDS
from members.models import Division

MAX_CUTOFF_DAYS = 365  # a cut-off further back would list (and address) people long gone


class AssemblyForm(forms.ModelForm):
    class Meta:
        model = Assembly
        fields = list(FIELDS)
        widgets = {
            "starts_at": forms.DateTimeInput(
                attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"
            ),
            "cutoff_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "agenda": forms.Textarea(attrs={"rows": 6}),
            "postal_deadline": forms.DateTimeInput(
                attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"
            ),
        }

    def __init__(self, *args: Any, divisions: QuerySet[Division], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["division"].queryset = divisions.order_by("path")
        for name in ("starts_at", "postal_deadline"):
            self.fields[name].input_formats = ["%Y-%m-%dT%H:%M", "%d.%m.%Y %H:%M"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        starts, cutoff = data.get("starts_at"), data.get("cutoff_on")
        if starts and cutoff and cutoff > starts.date():
            self.add_error("cutoff_on", _("The cut-off date must not be after the assembly."))
        if starts and cutoff and cutoff < starts.date() - timedelta(days=MAX_CUTOFF_DAYS):
            self.add_error(
                "cutoff_on", _("The cut-off date must be within a year before the assembly.")
            )
        if not data.get("online") and not (data.get("place") or "").strip():
            self.add_error("place", _("Give the place, or mark the assembly as online."))
        return data


class SeatsForm(forms.Form):
    seats = forms.IntegerField(label=_("Delegate seats"), min_value=1, max_value=10000)
    method = forms.ChoiceField(label=_("Method"), choices=list(METHODS.items()))
    minimum = forms.BooleanField(
        label=_("At least one seat per sub-division"),
        required=False,
        help_text=_("A basic seat each, the others by the method (where the statutes say so)."),
    )
