"""The systemic case pages' forms (issues.views.cases). They only draw and coerce what was typed:
the case services (issues.services.cases) validate, and `present` shows their errors on the
fields. Each form of the case page has its action's name as prefix, so its fields' ids are unique
on the page ("highlight-to") and the error summary links to them."""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from issues import case_rules
from issues.forms import NhsukForm
from issues.models import CaseStatus

DATE_FORMATS = ["%d/%m/%Y", "%d-%m-%Y", "%d %m %Y", "%Y-%m-%d"]
TIME_FORMATS = ["%H:%M", "%H.%M", "%H%M"]
REFERENCE_SPLIT = re.compile(r"[\s,;]+")


class CaseForm(NhsukForm):
    """A service's fields drawn and coerced; `present` puts the service's errors on them."""

    # The service's error keys that belong to another field of the form.
    error_fields: dict[str, str] = {}

    def present(self, error: ValidationError) -> None:
        if not hasattr(error, "error_dict"):
            for message in error.messages:
                self.add_error(None, message)
            return
        for name, messages in error.message_dict.items():
            target = self.error_fields.get(name, name)
            for message in messages:
                self.add_error(target if target in self.fields else None, message)

    def service_fields(self) -> dict[str, Any]:
        """What the service takes; a field that did not coerce is passed as typed, for the
        service to name (it validates everything once)."""
        cleaned = getattr(self, "cleaned_data", {})
        return {name: cleaned.get(name, self.data.get(self.add_prefix(name), "")) for name in self.fields}


def _text(label: str, *, required: bool = False, textarea: bool = True, help_text: str = "") -> forms.CharField:
    # Required or not is the service's to say: the form takes anything and passes it on.
    return forms.CharField(
        label=label,
        required=False,
        strip=True,
        widget=forms.Textarea if textarea else forms.TextInput,
        help_text=help_text,
    )


class CaseDetailsForm(CaseForm):
    title = _text(
        "Title", textarea=False, help_text="What the issues have in common, for example “Card locked at Leeds RA”."
    )
    description = _text("Description", help_text="What you know of the cause, and what has been tried.")


class AddIssuesForm(CaseForm):
    references = _text(
        "Issue references",
        textarea=False,
        help_text="One or more, separated by spaces or commas, for example SC-000123",
    )
    error_fields = {"issues": "references"}

    def service_fields(self) -> dict[str, Any]:
        text = str(self.data.get(self.add_prefix("references"), ""))
        return {"issues": [part for part in REFERENCE_SPLIT.split(text) if part]}


class RemoveIssueForm(CaseForm):
    issue = forms.CharField(required=False, widget=forms.HiddenInput)
    # Its one field is hidden: its errors are the form's.
    error_fields = {"issue": ""}


EMPTY_TIME_HINT = "For example, 14:30 (noon if left empty, or now if that is earlier)"


class _MomentForm(CaseForm):
    """A date and a time typed by a person in England, as one aware moment for the service."""

    moment_field = ""

    def _moment(self) -> datetime | str:
        day_text = str(self.data.get(self.add_prefix(self.moment_field), "")).strip()
        time_text = str(self.data.get(self.add_prefix(f"{self.moment_field}_time"), "")).strip()
        day = _parse(day_text, DATE_FORMATS, date)
        moment = _parse(time_text or "12:00", TIME_FORMATS, time)
        if day is None or moment is None:
            return ""
        when = datetime.combine(day, moment, tzinfo=ZoneInfo(settings.TIME_ZONE))
        # No time given: noon, or now when it was sent today and noon has not come yet.
        return min(when, timezone.now()) if not time_text else when

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        day_text = str(self.data.get(self.add_prefix(self.moment_field), "")).strip()
        if day_text and _parse(day_text, DATE_FORMATS, date) is None:
            self.add_error(self.moment_field, "Enter the date like 27/11/2026")
        time_text = str(self.data.get(self.add_prefix(f"{self.moment_field}_time"), "")).strip()
        if time_text and _parse(time_text, TIME_FORMATS, time) is None:
            self.add_error(f"{self.moment_field}_time", "Enter the time like 14:30")
        return cleaned

    def service_fields(self) -> dict[str, Any]:
        fields = super().service_fields()
        fields[self.moment_field] = self._moment()
        fields.pop(f"{self.moment_field}_time", None)
        return fields


def _parse(text: str, formats: list[str], kind: type[date] | type[time]) -> Any:
    for pattern in formats:
        try:
            parsed = datetime.strptime(text, pattern)
        except ValueError:
            continue
        return parsed.date() if kind is date else parsed.time()
    return None


class HighlightForm(_MomentForm):
    moment_field = "highlighted_at"
    highlighted_at = _text("Date it was sent", textarea=False, help_text="For example, 27/11/2026")
    highlighted_at_time = _text("Time it was sent", textarea=False, help_text=EMPTY_TIME_HINT)
    to = _text("Sent to", textarea=False, help_text="The person or address at NHS England's Transformation Directorate")
    text = _text("What was sent", help_text="The highlight as it was sent, or its main points")


class GuidanceForm(_MomentForm):
    moment_field = "received_at"
    received_at = _text("Date it came", textarea=False, help_text="For example, 27/11/2026")
    received_at_time = _text("Time it came", textarea=False, help_text=EMPTY_TIME_HINT)
    text = _text("The guidance", help_text="What NHS England advised")


class CloseForm(CaseForm):
    note = _text(
        "Closing note",
        help_text="The outcome, written for pharmacy teams: the notice quotes it, with the guidance.",
    )
    notify = forms.BooleanField(
        label="Tell the pharmacies and LPCs of its issues that the case is closed", required=False
    )

    def service_fields(self) -> dict[str, Any]:
        return {
            "note": str(self.data.get(self.add_prefix("note"), "")),
            "notify": bool(self.data.get(self.add_prefix("notify"))),
        }


# The form of each action of the case page, by its name (issues.case_rules).
CASE_ACTION_FORMS: dict[str, type[CaseForm]] = {
    case_rules.ADD_ISSUES: AddIssuesForm,
    case_rules.REMOVE_ISSUE: RemoveIssueForm,
    case_rules.EDIT: CaseDetailsForm,
    case_rules.HIGHLIGHT: HighlightForm,
    case_rules.GUIDANCE: GuidanceForm,
    case_rules.CLOSE: CloseForm,
}

# How each action reads on the case page: its section's title and its button.
CASE_ACTION_LABELS: dict[str, tuple[str, str]] = {
    case_rules.ADD_ISSUES: ("Add issues", "Add issues"),
    case_rules.REMOVE_ISSUE: ("Take an issue out", "Take out"),
    case_rules.EDIT: ("Change the title or description", "Save changes"),
    case_rules.HIGHLIGHT: ("Record the highlight to NHS England", "Record the highlight"),
    case_rules.GUIDANCE: ("Record the guidance received", "Record the guidance"),
    case_rules.CLOSE: ("Close the case", "Close the case"),
}


STATUS_FILTER_CHOICES = [("", "Every case"), ("active", "Not closed"), *CaseStatus.choices]


class CaseListFilterForm(forms.Form):
    status = forms.ChoiceField(
        label="Show",
        choices=STATUS_FILTER_CHOICES,
        required=False,
        error_messages={"invalid_choice": "Choose one of the statuses listed"},
    )
