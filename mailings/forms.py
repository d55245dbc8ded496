from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from mailings import content, services
from mailings.models import Mailing
from members.models import Division, FeeClass, PaymentStatus


class MailingForm(forms.ModelForm):
    divisions = forms.ModelMultipleChoiceField(
        label=_("Only these sub-divisions"),
        queryset=Division.objects.none(),
        required=False,
        help_text=_("None chosen: the whole division."),
        widget=forms.SelectMultiple(attrs={"size": 6}),
    )
    payment_statuses = forms.MultipleChoiceField(
        label=_("Payment status"),
        choices=PaymentStatus.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    fee_classes = forms.MultipleChoiceField(
        label=_("Fee class"),
        choices=FeeClass.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    upload = forms.FileField(
        label=_("Attachment"),
        required=False,
        help_text=format_lazy(
            _("Optional, e.g. an invitation as PDF; at most {size}."),
            size=filesizeformat(settings.MAILING_MAX_ATTACHMENT),
        ),
    )
    remove_attachment = forms.BooleanField(label=_("Remove the attachment"), required=False)

    class Meta:
        model = Mailing
        fields = ["kind", "sender_name", "reply_to", "subject", "body"]
        widgets = {
            "kind": forms.RadioSelect,
            "body": forms.Textarea(attrs={"rows": 14, "class": "font-monospace"}),
        }
        help_texts = {
            "body": _(
                "Markdown: **bold**, *italic*, [link](https://…), lists with - or 1., "
                "headings with #."
            ),
            "reply_to": _("Answers to the mailing go here."),
        }

    def __init__(self, *args: Any, division: Division, finance: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.division = division
        self.fields["kind"].choices = Mailing.Kind.choices  # no empty choice
        if not self.instance.pk:
            self.fields["kind"].initial = Mailing.Kind.NEWSLETTER
        self.fields["divisions"].queryset = Division.objects.filter(
            path__startswith=division.path, depth__gt=division.depth
        ).order_by("path")
        self.fields["body"].help_text = f"{self.fields['body'].help_text} {content.FIELD_HELP}"
        if not finance:
            # Payment status is finance data: only who may see it may filter by it.
            del self.fields["payment_statuses"]
        if not self.instance.attachment_name:
            del self.fields["remove_attachment"]
        audience = self.instance.audience or {}
        if not self.is_bound and self.instance.pk:
            self.initial.update(
                divisions=audience.get("divisions", []),
                payment_statuses=audience.get("payment_statuses", []),
                fee_classes=audience.get("fee_classes", []),
            )

    def clean_upload(self) -> Any:
        upload = self.cleaned_data.get("upload")
        if upload and upload.size > settings.MAILING_MAX_ATTACHMENT:
            raise forms.ValidationError(
                _("The attachment is larger than %(size)s.")
                % {"size": filesizeformat(settings.MAILING_MAX_ATTACHMENT)}
            )
        return upload

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        unknown = content.unknown_fields(data.get("subject", ""), data.get("body", ""))
        if unknown:
            self.add_error(
                "body",
                _("Unknown personal fields: %(fields)s.") % {"fields": ", ".join(unknown)},
            )
        return data

    def audience(self) -> dict[str, Any]:
        data = self.cleaned_data
        stored = self.instance.audience or {}
        if "payment_statuses" in self.fields:
            payment_statuses = data.get("payment_statuses") or []
        else:  # not theirs to change: keep what a treasurer or board chose
            payment_statuses = stored.get("payment_statuses", [])
        return {
            "divisions": sorted(d.pk for d in data.get("divisions") or []),
            "payment_statuses": sorted(payment_statuses),
            "fee_classes": sorted(data.get("fee_classes") or []),
            # An audience another app set (an assembly's eligible) is not the form's to drop.
            **{key: stored[key] for key in services.registered_audiences() if key in stored},
        }

    def values(self) -> dict[str, Any]:
        values = {name: self.cleaned_data[name] for name in self.Meta.fields}
        values["audience"] = self.audience()
        upload = self.cleaned_data.get("upload")
        if upload:
            values |= {
                "attachment_name": upload.name[:200],
                "attachment_type": upload.content_type or "application/octet-stream",
                "attachment": upload.read(),
            }
        elif self.cleaned_data.get("remove_attachment"):
            values |= {"attachment_name": "", "attachment_type": "", "attachment": None}
        return values


class AudienceForm(forms.Form):
    """The audience fields of the compose form, for the live count."""

    kind = forms.ChoiceField(choices=Mailing.Kind.choices, required=False)
    divisions = forms.ModelMultipleChoiceField(queryset=Division.objects.none(), required=False)
    payment_statuses = forms.MultipleChoiceField(choices=PaymentStatus.choices, required=False)
    fee_classes = forms.MultipleChoiceField(choices=FeeClass.choices, required=False)

    def __init__(self, *args: Any, division: Division, finance: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["divisions"].queryset = Division.objects.filter(
            path__startswith=division.path, depth__gt=division.depth
        )
        if not finance:
            del self.fields["payment_statuses"]
