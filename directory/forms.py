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
