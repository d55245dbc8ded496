from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.models import User
from onboarding.models import Candidate, Channel, Circle, CircleRole, MediationSession, Meeting


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%Y-%m-%d", **kwargs)


class CircleForm(forms.ModelForm):
    class Meta:
        model = Circle
        fields = [
            "name",
            "division",
            "description",
            "veto_days",
            "meetings_required",
            "veto_blocks",
            "mediations_before_removal",
        ]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args: Any, divisions: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["division"].queryset = divisions.order_by("path")


class ProcedureForm(forms.ModelForm):
    class Meta:
        model = Circle
        fields = [
            "description",
            "veto_days",
            "meetings_required",
            "veto_blocks",
            "mediations_before_removal",
        ]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}


class ChannelForm(forms.ModelForm):
    class Meta:
        model = Channel
        fields = ["name", "kind", "link"]


class PersonForm(forms.Form):
    email = forms.EmailField(label=_("E-mail"))
    first_name = forms.CharField(label=_("First name"), max_length=100, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=100, required=False)
    role = forms.ChoiceField(label=_("Role"), choices=CircleRole.choices, initial="member")


class CandidateForm(forms.ModelForm):
    class Meta:
        model = Candidate
        fields = ["first_name", "last_name", "email", "phone", "found_via", "notes"]
        widgets = {"notes": forms.Textarea(attrs={"rows": 4})}


class MeetingForm(forms.ModelForm):
    class Meta:
        model = Meeting
        fields = ["held_on", "met_by", "note"]
        widgets = {"held_on": DateInput()}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["held_on"].initial = timezone.localdate()


class AnswerForm(forms.Form):
    reason = forms.CharField(
        label=_("Your reason (only the coordinators read it)"),
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        max_length=5000,
    )


class MediationForm(forms.Form):
    subject = forms.CharField(label=_("Subject"), max_length=200)
    parties = forms.ModelMultipleChoiceField(
        label=_("People in conflict"), queryset=User.objects.none()
    )
    mediators = forms.ModelMultipleChoiceField(label=_("Mediators"), queryset=User.objects.none())

    def __init__(self, *args: Any, people: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["parties"].queryset = people
        self.fields["mediators"].queryset = people


class SessionForm(forms.ModelForm):
    class Meta:
        model = MediationSession
        fields = ["held_on", "mediated_by", "outcome", "notes"]
        widgets = {"held_on": DateInput(), "notes": forms.Textarea(attrs={"rows": 4})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["held_on"].initial = timezone.localdate()


class RemovalForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason for the decision"), widget=forms.Textarea(attrs={"rows": 4})
    )
