"""Forms of the directory pages. Error messages say what to do, in NHS.UK style."""

from __future__ import annotations

from django import forms


class PharmacySearchForm(forms.Form):
    q = forms.CharField(
        label="ODS code, pharmacy name or postcode",
        required=False,
        max_length=100,
        strip=True,
        error_messages={"max_length": "Search for 100 characters or fewer (this has %(show_value)d)."},
    )


class CorrectionReportForm(forms.Form):
    details = forms.CharField(
        label="What is wrong or missing?",
        help_text="For example, a new phone number or email address, or pharmacies this body no longer serves. "
        "Say where you found the right details, if you can.",
        max_length=2000,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 5}),
        error_messages={
            "required": "Enter what is wrong or missing",
            "max_length": "What is wrong or missing must be 2000 characters or fewer (this has %(show_value)d)",
        },
    )


class SubjectAccessForm(forms.Form):
    """Whose data to export (a subject-access request): the person's email address."""

    email = forms.EmailField(
        label="The person's email address",
        help_text="Their account, roles, the issues they reported or are named in, their events and their mail.",
        max_length=254,
        error_messages={
            "required": "Enter the person's email address",
            "invalid": "Enter an email address in the correct format, like name@example.com",
        },
    )


CHOOSE_FORMAT = "Choose JSON or a readable page"


class SubjectAccessExportForm(SubjectAccessForm):
    format = forms.ChoiceField(
        choices=[("json", "JSON"), ("page", "Readable page")],
        error_messages={"required": CHOOSE_FORMAT, "invalid_choice": CHOOSE_FORMAT},
    )
