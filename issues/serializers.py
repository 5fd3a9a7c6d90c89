"""The JSON API's shapes: what an issue looks like out, and what each write takes in.

Serializers check the shape of the input (types, choices, lengths, the Smartcard number and phone
formats) so that every bad field is reported at once with a 400. They never save anything: the
views hand the validated values to `issues.services`, which validates again and keeps the rules.
Text is returned exactly as stored; JSON needs no HTML escaping, and pages escape it on output.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from directory.models import Pharmacy, User
from directory.validators import normalise_ods_code, normalise_phone, normalise_smartcard_number
from issues.models import Deadline, EventKind, Issue, IssueEvent, Kind, State, Step
from issues.selectors import issue_allowed_transitions, pharmacies_for_reporting
from issues.services import MAX_NAME, MAX_SUMMARY, MAX_TEXT, SEND_VIA_CHOICES, TRANSITION_FIELDS, TRANSITIONS

MAX_PHONE = 30  # Issue.contact_phone

STATE_FILTER_CHOICES = [("open", "Any open state"), *State.choices]


def _django_messages(error: DjangoValidationError) -> list[str]:
    return list(error.messages)


# Output ---------------------------------------------------------------------------------------


class PharmacySummarySerializer(serializers.ModelSerializer[Pharmacy]):
    class Meta:
        model = Pharmacy
        fields = ("ods_code", "name")
        read_only_fields = fields


class PersonSerializer(serializers.ModelSerializer[User]):
    name = serializers.CharField(source="full_name", read_only=True)

    class Meta:
        model = User
        fields = ("name",)


class IssueEventSerializer(serializers.ModelSerializer[IssueEvent]):
    kind = serializers.ChoiceField(choices=EventKind.choices, read_only=True)
    kind_label = serializers.CharField(source="get_kind_display", read_only=True)
    actor = PersonSerializer(read_only=True, allow_null=True)
    transition = serializers.SerializerMethodField(help_text="The transition's name, for status changes.")

    class Meta:
        model = IssueEvent
        fields = ("kind", "kind_label", "actor", "from_state", "to_state", "transition", "text", "created_at")
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=TRANSITIONS, allow_null=True))
    def get_transition(self, event: IssueEvent) -> str | None:
        if event.kind != EventKind.TRANSITION:
            return None
        name = (event.data or {}).get("transition")
        return name if name in TRANSITIONS else None


class IssueListSerializer(serializers.ModelSerializer[Issue]):
    reference = serializers.CharField(read_only=True, help_text='The issue\'s reference, like "SC-000123".')
    url = serializers.HyperlinkedIdentityField(
        view_name="api:issue-detail", lookup_field="reference", lookup_url_kwarg="reference"
    )
    pharmacy = PharmacySummarySerializer(read_only=True)
    reporter = PersonSerializer(read_only=True)
    kind = serializers.ChoiceField(choices=Kind.choices, read_only=True)
    kind_label = serializers.CharField(source="get_kind_display", read_only=True)
    state = serializers.ChoiceField(choices=State.choices, read_only=True)
    state_label = serializers.CharField(source="get_state_display", read_only=True)
    due_kind = serializers.ChoiceField(
        choices=Deadline.choices, read_only=True, help_text='What the issue waits for until due_at ("" for nothing).'
    )
    due_kind_label = serializers.CharField(source="get_due_kind_display", read_only=True)
    is_overdue = serializers.BooleanField(read_only=True, help_text="due_at has passed.")

    class Meta:
        model = Issue
        fields: tuple[str, ...] = (
            "reference",
            "url",
            "pharmacy",
            "reporter",
            "kind",
            "kind_label",
            "summary",
            "is_emergency",
            "state",
            "state_label",
            "due_at",
            "due_kind",
            "due_kind_label",
            "is_overdue",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields


class IssueDetailSerializer(IssueListSerializer):
    fixed_by_step = serializers.ChoiceField(choices=Step.choices, read_only=True)
    allowed_transitions = serializers.SerializerMethodField(
        help_text="The transitions the requesting user may start now (POST them to transitions/)."
    )
    events = serializers.SerializerMethodField(help_text="The timeline, oldest first.")

    class Meta(IssueListSerializer.Meta):
        fields = (
            *IssueListSerializer.Meta.fields,
            "details",
            "tried_in_pharmacy",
            "smartcard_number",
            "no_card_yet",
            "contact_name",
            "contact_phone",
            "resolution_note",
            "fixed_by_step",
            "resolved_at",
            "withdrawn_reason",
            "allowed_transitions",
            "events",
        )
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.ChoiceField(choices=TRANSITIONS)))
    def get_allowed_transitions(self, issue: Issue) -> list[str]:
        return issue_allowed_transitions(user=self.context["request"].user, issue=issue)

    @extend_schema_field(IssueEventSerializer(many=True))
    def get_events(self, issue: Issue) -> list[dict[str, Any]]:
        events = self.context["events"]
        return IssueEventSerializer(events, many=True, context=self.context).data  # type: ignore[return-value]


# Input ----------------------------------------------------------------------------------------


def _text(*, required: bool, max_length: int = MAX_TEXT, help_text: str = "") -> serializers.CharField:
    if required:
        return serializers.CharField(max_length=max_length, help_text=help_text)
    return serializers.CharField(
        max_length=max_length, required=False, allow_blank=True, default="", help_text=help_text
    )


class IssueFilterSerializer(serializers.Serializer[Any]):
    """The list's query parameters."""

    state = serializers.ChoiceField(
        choices=STATE_FILTER_CHOICES, required=False, help_text='A state, or "open" for every open state.'
    )
    kind = serializers.ChoiceField(choices=Kind.choices, required=False)
    pharmacy = serializers.CharField(required=False, max_length=10, help_text="The pharmacy's ODS code.")
    overdue = serializers.BooleanField(
        required=False, help_text="true: only issues whose deadline has passed; false: only the others."
    )

    def validate_pharmacy(self, value: str) -> str:
        try:
            return normalise_ods_code(value)
        except DjangoValidationError as error:
            raise serializers.ValidationError(_django_messages(error)) from error


class IssueCreateSerializer(serializers.Serializer[Any]):
    """Report a problem. The pharmacy must be one the user works at or owns."""

    pharmacy = serializers.CharField(max_length=10, help_text="The ODS code of a pharmacy you work at or own.")
    kind = serializers.ChoiceField(choices=Kind.choices)
    summary = _text(required=True, max_length=MAX_SUMMARY)
    details = _text(required=False)
    tried_in_pharmacy = _text(required=False, help_text="What was already tried in the pharmacy.")
    smartcard_number = serializers.CharField(
        max_length=20,
        required=False,
        allow_blank=True,
        default="",
        help_text="12 digits, with or without spaces. Leave blank with no_card_yet.",
    )
    no_card_yet = serializers.BooleanField(required=False, default=False)
    contact_name = _text(required=True, max_length=MAX_NAME, help_text="Who the RA should contact.")
    contact_phone = serializers.CharField(max_length=MAX_PHONE, help_text="A UK phone number for the RA to call.")
    is_emergency = serializers.BooleanField(required=False, default=False)

    def validate_pharmacy(self, value: str) -> Pharmacy:
        try:
            code = normalise_ods_code(value)
        except DjangoValidationError as error:
            raise serializers.ValidationError(_django_messages(error)) from error
        pharmacy = pharmacies_for_reporting(user=self.context["request"].user).filter(ods_code=code).first()
        if pharmacy is None:
            raise serializers.ValidationError(
                f"You can only report problems for a pharmacy you work at or own; {code} is not one of them."
            )
        return pharmacy

    def validate_smartcard_number(self, value: str) -> str:
        return _smartcard_number(value)

    def validate_contact_phone(self, value: str) -> str:
        return _phone(value)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("no_card_yet") and attrs.get("smartcard_number"):
            raise serializers.ValidationError(
                {"smartcard_number": "Enter a Smartcard number or say there is no card yet, not both."}
            )
        return attrs


def _smartcard_number(value: str) -> str:
    if not value:
        return value
    try:
        return normalise_smartcard_number(value)
    except DjangoValidationError as error:
        raise serializers.ValidationError(_django_messages(error)) from error


def _phone(value: str) -> str:
    try:
        return normalise_phone(value)
    except DjangoValidationError as error:
        raise serializers.ValidationError(_django_messages(error)) from error


# Transitions: one serializer per transition, chosen by the body's "transition" field.

# Sent by HTML forms (the browsable API's among them) with every POST; not an input of any transition.
IGNORED_FORM_FIELDS = ("csrfmiddlewaretoken",)


class TransitionSerializer(serializers.Serializer[Any]):
    """The common part of every transition request: which transition to run."""

    transition = serializers.ChoiceField(choices=TRANSITIONS)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # Refuse fields this transition does not take, rather than silently ignoring them.
        name = attrs["transition"]
        unknown = sorted(set(self.initial_data) - {"transition", *TRANSITION_FIELDS[name], *IGNORED_FORM_FIELDS})
        if unknown:
            raise serializers.ValidationError({field: [f"'{name}' does not take this field."] for field in unknown})
        return attrs


class TryCisSerializer(TransitionSerializer):
    """in_pharmacy to cis_self_service: record a Care Identity Service self-service attempt (staff, owner)."""

    note = _text(required=False, help_text="What was tried in Care Identity Service self-service.")


class ContactRaSerializer(TransitionSerializer):
    """in_pharmacy or cis_self_service to ra_contacted (lpc_cc with cc_lpc): request help from the
    pharmacy's RA; starts the RA reply window (staff, owner)."""

    question = _text(required=True, help_text="What you are asking the RA to do.")
    contact_name = serializers.CharField(
        max_length=MAX_NAME, required=False, help_text="Defaults to the issue's contact name."
    )
    contact_phone = serializers.CharField(
        max_length=MAX_PHONE, required=False, help_text="Defaults to the issue's contact phone number."
    )
    smartcard_number = serializers.CharField(
        max_length=20,
        required=False,
        allow_blank=True,
        help_text="12 digits, with or without spaces. Defaults to the issue's; required unless no_card_yet.",
    )
    no_card_yet = serializers.BooleanField(required=False, help_text="Defaults to the issue's.")
    send_via = serializers.ChoiceField(
        choices=SEND_VIA_CHOICES,
        required=False,
        default="app",
        help_text='"app": Smartcard Route emails the RA; "own_mail": you sent it from your own mailbox.',
    )
    cc_lpc = serializers.BooleanField(
        required=False, default=False, help_text="Owners only: copy the LPC in at once (the issue goes to lpc_cc)."
    )

    def validate_smartcard_number(self, value: str) -> str:
        return _smartcard_number(value)

    def validate_contact_phone(self, value: str) -> str:
        return _phone(value)


class CcLpcSerializer(TransitionSerializer):
    """ra_contacted to lpc_cc: forward the RA thread to the LPC; starts the LPC window (owner)."""

    note = _text(required=False, help_text="A note for the LPC.")


class EscalateToCpeSerializer(TransitionSerializer):
    """lpc_cc to escalated: forward the RA correspondence to CPE IT; starts the triage window (LPC officer)."""

    note = _text(required=True, help_text="What the LPC has tried and why it needs CPE IT.")


class ResolveSerializer(TransitionSerializer):
    """Any open state to resolved (anyone in scope)."""

    note = _text(required=True, help_text="How it was resolved.")
    fixed_by_step = serializers.ChoiceField(choices=Step.choices, help_text="The step of the route that fixed it.")


class WithdrawSerializer(TransitionSerializer):
    """Any open state to withdrawn (the reporter, the owner)."""

    reason = _text(required=True)


class ReopenSerializer(TransitionSerializer):
    """resolved back to the state it was resolved from, within the reopen window (staff, owner)."""

    reason = _text(required=True)


TRANSITION_SERIALIZERS: dict[str, type[TransitionSerializer]] = {
    "try_cis": TryCisSerializer,
    "contact_ra": ContactRaSerializer,
    "cc_lpc": CcLpcSerializer,
    "escalate_to_cpe": EscalateToCpeSerializer,
    "resolve": ResolveSerializer,
    "withdraw": WithdrawSerializer,
    "reopen": ReopenSerializer,
}
assert set(TRANSITION_SERIALIZERS) == set(TRANSITIONS)


# Notes, phone calls and RA replies.


class NoteSerializer(serializers.Serializer[Any]):
    text = _text(required=True)


class PhoneCallSerializer(serializers.Serializer[Any]):
    text = _text(required=True, help_text="What was said on the call.")
    with_ra = serializers.BooleanField(
        help_text="A call with the RA counts as the RA's reply: it stops the RA reply window."
    )


class RaReplySerializer(serializers.Serializer[Any]):
    text = _text(required=True, help_text="What the RA said (received outside Smartcard Route).")


# The prepared request to the RA (for sending it from one's own mailbox).


class RaRequestQuerySerializer(serializers.Serializer[Any]):
    question = serializers.CharField(
        max_length=MAX_TEXT, required=False, allow_blank=True, help_text="Your question; a default one otherwise."
    )


class RaRequestSerializer(serializers.Serializer[Any]):
    to = serializers.CharField(read_only=True, help_text='The RA\'s address ("" when the directory has none).')
    cc = serializers.ListField(
        child=serializers.CharField(), read_only=True, help_text="The issue's tracking address: keep it in Cc."
    )
    subject = serializers.CharField(read_only=True)
    body_text = serializers.CharField(read_only=True)
    body_html = serializers.CharField(read_only=True)
    reply_to = serializers.CharField(read_only=True)
    ra_name = serializers.CharField(read_only=True)
    mailto_url = serializers.CharField(read_only=True, help_text="Opens the request in the user's mail client.")
    missing = serializers.ListField(
        child=serializers.ChoiceField(choices=["ra", "ra_email"]),
        read_only=True,
        help_text='What the directory lacks: "ra" (no RA) or "ra_email" (no RA email address).',
    )


# Error bodies, for the schema.


class ErrorSerializer(serializers.Serializer[Any]):
    detail = serializers.CharField(help_text="What went wrong, in words for the user.")


FIELD_ERRORS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": 'Field name (or "non_field_errors") to its error messages.',
    "additionalProperties": {"type": "array", "items": {"type": "string"}},
    "example": {"contact_phone": ["Enter a UK phone number, like 0113 496 0000."]},
}
