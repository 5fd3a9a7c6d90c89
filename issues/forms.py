"""The issue pages' forms: the report's question pages, the issue page's actions, contacting the RA.

The report's forms check and tidy what was typed (formats, lengths, required answers). The forms
of the issue page's actions and of contacting the RA are built from the route table
(issues.route, one per row: ACTION_FORMS) and only draw and coerce: the service validates, and
the form presents its errors. Whether an action is allowed, and every write, belong to
issues.services. templates/_forms.jinja draws them with NHS.UK components; the error summary's
links point at the fields' ids (their HTML names).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from directory.models import Pharmacy, User
from directory.validators import normalise_phone, normalise_smartcard_number
from issues import route
from issues.models import Kind, NotificationPreference
from issues.permissions import Roles
from issues.selectors.figures import DEFAULT_WEEKS, PERIOD_WEEKS

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


# The issue page's actions and contacting the RA: a form per row of the route table ------------


class PresentedChoiceField(forms.ChoiceField):
    """A choice drawn as radios and passed on as chosen: the service says when it is missing or not
    one of the list."""

    def validate(self, value: Any) -> None:
        pass


class PresentedCharField(forms.CharField):
    """Text passed on as typed (stripped): the service checks it (required, length, characters)."""

    default_validators: list[Any] = []

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(required=False, strip=True, **kwargs)
        self.validators = []


class ActionForm(NhsukForm):
    """The form of one row of the route table (issues.route), built by `action_form`.

    It draws the row's fields and coerces what was posted (a checkbox to a bool, a radio to what it
    means), and never validates: the service does, and `present` puts its ValidationError on the
    fields. With `roles`, a field only some roles may answer yes to (cc_lpc) is left out for the
    others, and the service gets its "no"."""

    action: route.Action

    def __init__(self, *args: Any, roles: Roles | None = None, user: User | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for f in self.action.fields:
            if f.who is not None and (roles is None or not f.who(roles)):
                del self.fields[f.name]
            elif f.default is not None:
                self.fields[f.name].initial = f.default  # what the service takes when none is chosen
            elif f.kind == route.PERSON and user is not None:
                self.fields[f.name].initial = user.email  # the service takes the user when none is chosen

    def service_fields(self) -> dict[str, Any]:
        """The service's keyword arguments: every field drawn, as posted and coerced."""
        self.is_valid()  # coerces; nothing here can make it invalid
        data = getattr(self, "cleaned_data", {})
        return {f.name: _meaning(f, data.get(f.name)) for f in self.action.fields if f.name in self.fields}

    def present(self, error: ValidationError) -> None:
        """The service's ValidationError on the form: on the matching field, else at the top."""
        if hasattr(error, "error_dict"):
            for name, errors in error.error_dict.items():
                self.add_error(name if name in self.fields else None, errors)
        else:
            self.add_error(None, error)


def _meaning(f: route.Field, value: Any) -> Any:
    if f.options:
        return next((option.means for option in f.options if option.value == value), value or None)
    if f.kind == route.FLAG:
        return bool(value)
    return value


def _form_field(f: route.Field) -> forms.Field:
    if f.kind == route.PERSON and f.people is not None:
        # The people are read when the form is drawn, not when this module is imported.
        return PresentedChoiceField(
            label=f.label, help_text=f.hint, required=False, choices=f.people, widget=forms.RadioSelect
        )
    if f.kind in (route.CHOICE, route.YES_NO):
        return PresentedChoiceField(
            label=f.label,
            help_text=f.hint,
            required=False,
            choices=[(option.value, option.label) for option in f.options],
            widget=forms.RadioSelect,
        )
    if f.kind == route.FLAG:
        return forms.BooleanField(label=f.label, help_text=f.hint, required=False)
    widget = forms.Textarea if f.kind == route.TEXT else forms.TextInput
    return PresentedCharField(label=f.label, help_text=f.hint, widget=widget)


def action_form(action: route.Action) -> type[ActionForm]:
    """The form class of a row: its fields in the row's order (so is the error summary)."""
    attrs: dict[str, Any] = {f.name: _form_field(f) for f in action.fields}
    attrs.update(action=action, __doc__=f"{action.label.title} (issues.route.{action.name.upper()}).")
    return type(f"{action.name.title().replace('_', '')}Form", (ActionForm,), attrs)


ACTION_FORMS: dict[str, type[ActionForm]] = {row.name: action_form(row) for row in route.ROUTE}


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


# The figures' period (issues.selectors.figures) ----------------------------------------------


class FiguresPeriodForm(NhsukForm):
    """The figures' period: the last 4, 13 or 52 weeks (PERIOD_WEEKS); 13 when not given."""

    weeks = forms.TypedChoiceField(
        label="Period",
        choices=[(weeks, f"Last {weeks} weeks") for weeks in PERIOD_WEEKS],
        coerce=int,
        required=False,
        empty_value=None,
        error_messages={"invalid_choice": "Choose a period of the last 4, 13 or 52 weeks"},
    )

    def chosen_weeks(self) -> int:
        return int(self.cleaned_data.get("weeks") or DEFAULT_WEEKS)
