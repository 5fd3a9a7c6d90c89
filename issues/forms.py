"""The issue pages' forms: the report's question pages, the issue page's actions, contacting the RA.

Forms only check and tidy what was typed (formats, lengths, required answers); whether an action
is allowed, and every write, belong to issues.services. templates/_forms.jinja draws them with
NHS.UK components; the error summary's links point at the fields' ids (their HTML names).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from directory.models import Pharmacy
from directory.validators import normalise_phone, normalise_smartcard_number
from issues.models import Kind, NotificationPreference, State, Step

SUMMARY_MAX = 200
LONG_TEXT_MAX = 5000
NAME_MAX = 150


class NhsukForm(forms.Form):
    """A form of the issue pages, drawn with templates/_forms.jinja. Its fields' ids are their HTML
    names (with the prefix: "resolve-note"), where the error summary's links point."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "%s")
        super().__init__(*args, **kwargs)

    def service_fields(self) -> dict[str, Any]:
        """The service's keyword arguments: the cleaned fields, unless a form says otherwise."""
        return dict(self.cleaned_data)


def _text(
    label: str, *, required: bool = True, max_length: int = LONG_TEXT_MAX, multiline: bool = True, **kwargs: Any
) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=required,
        max_length=max_length,
        strip=True,
        widget=forms.Textarea if multiline else forms.TextInput,
        error_messages={
            "required": kwargs.pop("required_message", f"Enter {label[0].lower()}{label[1:]}"),
            "max_length": f"{label} must be {max_length} characters or fewer",
        },
        **kwargs,
    )


# The report's question pages -----------------------------------------------------------------


class PharmacyStepForm(NhsukForm):
    pharmacy = forms.ModelChoiceField(
        queryset=Pharmacy.objects.none(),
        error_messages={
            "required": "Select the pharmacy that has the problem",
            "invalid_choice": "Select one of your pharmacies",
        },
    )

    def __init__(self, *args: Any, pharmacies: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["pharmacy"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = pharmacies

    def to_session(self) -> dict[str, Any]:
        return {"pharmacy": self.cleaned_data["pharmacy"].pk}


class KindStepForm(NhsukForm):
    kind = forms.ChoiceField(
        choices=Kind.choices,
        error_messages={
            "required": "Select the kind of problem",
            "invalid_choice": "Select one of the kinds of problem listed",
        },
    )

    def to_session(self) -> dict[str, Any]:
        return {"kind": self.cleaned_data["kind"]}


class TriedStepForm(NhsukForm):
    tried_in_pharmacy = _text(
        "What you have already tried in the pharmacy",
        required=False,
        max_length=LONG_TEXT_MAX,
    )

    def to_session(self) -> dict[str, Any]:
        return {"tried_in_pharmacy": self.cleaned_data["tried_in_pharmacy"]}


YES_NO = [("yes", "Yes"), ("no", "No")]


class ContactDetailsMixin(NhsukForm):
    """The details an RA needs: a contact name and phone, and a Smartcard number or 'no card yet'."""

    smartcard_number = forms.CharField(required=False, max_length=40, strip=True)
    no_card_yet = forms.BooleanField(required=False)
    contact_name = _text(
        "Contact name",
        max_length=NAME_MAX,
        multiline=False,
        required_message="Enter the name the RA should contact",
    )
    contact_phone = forms.CharField(
        max_length=30,
        strip=True,
        error_messages={
            "required": "Enter a phone number the RA can call",
            "max_length": "Phone number must be 30 characters or fewer",
        },
    )

    def clean_contact_phone(self) -> str:
        return normalise_phone(self.cleaned_data["contact_phone"])

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        number = cleaned.get("smartcard_number", "")
        if cleaned.get("no_card_yet"):
            if number:
                self.add_error("smartcard_number", "Enter the Smartcard number, or tick 'no card yet', not both")
            cleaned["smartcard_number"] = ""
        elif not number:
            self.add_error(
                "smartcard_number",
                "Enter the 12-digit Smartcard number, or tick 'no card yet' if the person has no card",
            )
        else:
            try:
                cleaned["smartcard_number"] = normalise_smartcard_number(number)
            except ValidationError as error:
                self.add_error("smartcard_number", error)
        return cleaned


# The details page's fields in the page's order (so is the error summary).
DETAILS_KEYS = (
    "summary",
    "details",
    "smartcard_number",
    "no_card_yet",
    "contact_name",
    "contact_phone",
    "is_emergency",
)


class DetailsStepForm(ContactDetailsMixin):
    field_order = list(DETAILS_KEYS)

    summary = _text(
        "Summary",
        max_length=SUMMARY_MAX,
        multiline=False,
        required_message="Enter a short summary of the problem",
    )
    details = _text("Details", required=False)
    is_emergency = forms.ChoiceField(
        choices=YES_NO,
        error_messages={"required": "Select yes if the pharmacy cannot work safely without this card today"},
    )

    def to_session(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "summary": data["summary"],
            "details": data["details"],
            "smartcard_number": data["smartcard_number"],
            "no_card_yet": bool(data["no_card_yet"]),
            "contact_name": data["contact_name"],
            "contact_phone": data["contact_phone"],
            "is_emergency": data["is_emergency"] == "yes",
        }

    @staticmethod
    def from_session(stored: dict[str, Any]) -> dict[str, Any]:
        """Session values back into form data (the emergency answer is stored as a bool)."""
        data = {key: stored[key] for key in DETAILS_KEYS if key in stored}
        if "is_emergency" in data:
            data["is_emergency"] = "yes" if data["is_emergency"] else "no"
        if not data.get("no_card_yet"):
            data.pop("no_card_yet", None)
        return data


# The issue page's actions ----------------------------------------------------------------------


class NoteForm(NhsukForm):
    text = _text("Note", required_message="Enter the note")


class PhoneCallForm(NhsukForm):
    WITH_CHOICES = [("ra", "The RA"), ("other", "Someone else")]

    with_ra = forms.ChoiceField(
        label="Who did you speak to?",
        choices=WITH_CHOICES,
        error_messages={"required": "Select who you spoke to"},
    )
    text = _text("What was said", required_message="Enter what was said on the call")

    def service_fields(self) -> dict[str, Any]:
        return {"text": self.cleaned_data["text"], "with_ra": self.cleaned_data["with_ra"] == "ra"}


class RaReplyForm(NhsukForm):
    text = _text(
        "What the RA said",
        required_message="Enter what the RA said",
        help_text="Copy the reply here if it reached you outside Smartcard Route, for example in your own mailbox.",
    )


class TryCisForm(NhsukForm):
    note = _text("What you tried and what happened (optional)", required=False)


class CcLpcForm(NhsukForm):
    note = _text(
        "A note for the LPC (optional)",
        required=False,
        help_text="We forward the correspondence with the RA to your LPC, with this note.",
    )


class EscalateForm(NhsukForm):
    note = _text(
        "What the LPC has tried, and why it needs CPE IT",
        required_message="Enter what the LPC has tried and why it needs CPE IT",
        help_text="We forward the correspondence with the RA to CPE's IT team with this note.",
    )


class ResolveForm(NhsukForm):
    fixed_by_step = forms.ChoiceField(
        label="What fixed it?",
        choices=Step.choices,
        error_messages={"required": "Select what fixed the problem"},
    )
    note = _text("How it was fixed", required_message="Enter how the problem was fixed")


class WithdrawForm(NhsukForm):
    reason = _text("Why are you withdrawing it?", required_message="Enter why you are withdrawing the issue")


class ReopenForm(NhsukForm):
    reason = _text("Why are you reopening it?", required_message="Enter why you are reopening the issue")


# Contacting the RA -------------------------------------------------------------------------


class ContactRaForm(ContactDetailsMixin):
    SEND_VIA_CHOICES = [
        ("app", "Send it from Smartcard Route"),
        ("own_mail", "Send it from your own email"),
    ]

    question = _text(
        "Your question for the RA",
        max_length=2000,
        required_message="Enter your question for the RA",
    )
    send_via = forms.ChoiceField(
        choices=SEND_VIA_CHOICES,
        error_messages={"required": "Select how you want to send the request"},
    )
    cc_lpc = forms.BooleanField(required=False)

    field_order = ["contact_name", "contact_phone", "smartcard_number", "no_card_yet", "question", "cc_lpc", "send_via"]

    def __init__(self, *args: Any, may_cc_lpc: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not may_cc_lpc:
            del self.fields["cc_lpc"]

    def service_fields(self) -> dict[str, Any]:
        """The contact_ra transition's inputs (issues.services.TRANSITION_FIELDS)."""
        data = self.cleaned_data
        return {
            "question": data["question"],
            "contact_name": data["contact_name"],
            "contact_phone": data["contact_phone"],
            "smartcard_number": data["smartcard_number"],
            "no_card_yet": bool(data["no_card_yet"]),
            "send_via": data["send_via"],
            "cc_lpc": bool(data.get("cc_lpc")),
        }


# The list of issues ----------------------------------------------------------------------------


class IssueFilterForm(NhsukForm):
    STATE_CHOICES = [("open", "Open issues"), ("all", "All issues"), *State.choices]

    state = forms.ChoiceField(choices=STATE_CHOICES, required=False, initial="open")
    overdue = forms.BooleanField(required=False)

    def filters(self) -> dict[str, Any]:
        """Arguments for issues.selectors.issue_list; open issues when nothing is chosen."""
        if not self.is_bound or not self.is_valid():
            return {"state": "open"}
        state = self.cleaned_data["state"] or "open"
        filters: dict[str, Any] = {"state": None if state == "all" else state}
        if self.cleaned_data["overdue"]:
            filters["overdue"] = True
        return filters


# The account's reminder emails ------------------------------------------------------------------


class NotificationPreferenceForm(NhsukForm):
    nudge_delivery = forms.ChoiceField(
        label="How do you want your reminders?",
        choices=NotificationPreference.Delivery.choices,
        error_messages={
            "required": "Select how you want your reminders",
            "invalid_choice": "Select one of the ways of getting reminders listed",
        },
    )
