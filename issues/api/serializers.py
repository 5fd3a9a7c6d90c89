"""The JSON API's shapes: what an issue looks like out, and what each write takes in.

The bodies of the actions (transitions, notes, phone calls, RA replies) are built from the route
table (issues.route: a serializer per row): they describe the row's fields for the schema, read
them as sent and hand them to `issues.services`, which validates every field once and whose
ValidationError the API answers with (400, every bad field at once). The report's body
(IssueCreateSerializer) still checks its formats itself before the service. Serializers never
save anything. Text is returned exactly as stored; JSON needs no HTML escaping, and pages escape
it on output.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import empty
from rest_framework.settings import api_settings

from directory.models import Pharmacy, User
from directory.validators import normalise_ods_code, normalise_phone, normalise_smartcard_number
from issues import presentation, route
from issues.fields import MAX_NAME, MAX_SUMMARY, MAX_TEXT
from issues.models import CaseStatus, Deadline, EventKind, Issue, IssueEvent, Kind, State, Step, TriageOutcome
from issues.selectors import issue_allowed_transitions, pharmacies_for_reporting
from issues.selectors.cases import case_of_issue

MAX_PHONE = 30  # Issue.contact_phone


def _django_messages(error: DjangoValidationError) -> list[str]:
    return list(error.messages)


# Output ---------------------------------------------------------------------------------------


class ChoiceLabelField(serializers.CharField):
    """A choice field's label, read from the field's value: what `source="get_kind_display"` gave,
    without DRF inspecting that bound method's signature for every row (`is_simple_callable`:
    20 ms of a page of 50 issues, three labels each). A value that is not a choice is itself, as
    Django's get_FOO_display gives it."""

    def __init__(self, choices: Any, **kwargs: Any) -> None:
        self.labels = {value: str(label) for value, label in choices}
        super().__init__(read_only=True, **kwargs)

    def to_representation(self, value: Any) -> str:
        return self.labels.get(value, str(value))


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
    kind_label = ChoiceLabelField(EventKind.choices, source="kind")
    actor = PersonSerializer(read_only=True, allow_null=True)
    transition = serializers.SerializerMethodField(help_text="The transition's name, for status changes.")

    class Meta:
        model = IssueEvent
        fields = ("kind", "kind_label", "actor", "from_state", "to_state", "transition", "text", "created_at")
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=route.TRANSITIONS, allow_null=True))
    def get_transition(self, event: IssueEvent) -> str | None:
        if event.kind != EventKind.TRANSITION:
            return None
        name = (event.data or {}).get("transition")
        return name if name in route.TRANSITIONS else None


class IssueListSerializer(serializers.ModelSerializer[Issue]):
    reference = serializers.CharField(read_only=True, help_text='The issue\'s reference, like "SC-000123".')
    url = serializers.HyperlinkedIdentityField(
        view_name="api:issue-detail", lookup_field="reference", lookup_url_kwarg="reference"
    )
    pharmacy = PharmacySummarySerializer(read_only=True)
    reporter = PersonSerializer(read_only=True)
    kind = serializers.ChoiceField(choices=Kind.choices, read_only=True)
    kind_label = ChoiceLabelField(Kind.choices, source="kind")
    state = serializers.ChoiceField(choices=State.choices, read_only=True)
    state_label = ChoiceLabelField(State.choices, source="state")
    due_kind = serializers.ChoiceField(
        choices=Deadline.choices, read_only=True, help_text='What the issue waits for until due_at ("" for nothing).'
    )
    due_kind_label = ChoiceLabelField(Deadline.choices, source="due_kind")
    is_overdue = serializers.BooleanField(
        read_only=True, help_text="due_at has passed and the wait goes on (reminders never move due_at)."
    )
    status_label = serializers.SerializerMethodField(
        help_text='The status as the pages say it ("Ready to contact the RA" for a problem only the RA can fix).'
    )
    deadline_text = serializers.SerializerMethodField(
        help_text='The deadline as the pages say it: "RA reply due by ..." or "RA reply overdue since ... '
        '(4 working days)"; "" when nothing is awaited.'
    )

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
            "status_label",
            "deadline_text",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields

    def get_status_label(self, issue: Issue) -> str:
        return presentation.status_label(issue)

    def get_deadline_text(self, issue: Issue) -> str:
        return presentation.deadline_text(issue)


class IssueCaseSerializer(serializers.Serializer[Any]):
    """What anyone who sees an issue may know of its systemic case: nothing but these."""

    reference = serializers.CharField(read_only=True, help_text='The case\'s reference, like "CASE-00012".')
    title = serializers.CharField(read_only=True)
    status = serializers.ChoiceField(choices=CaseStatus.choices, read_only=True)


class IssueDetailSerializer(IssueListSerializer):
    fixed_by_step = serializers.ChoiceField(choices=Step.choices, read_only=True)
    cpe_owner = PersonSerializer(
        read_only=True, allow_null=True, help_text="Who in CPE IT owns the escalation, once triaged."
    )
    triage_outcome = serializers.ChoiceField(
        choices=[("", "Not triaged"), *TriageOutcome.choices],
        read_only=True,
        help_text='CPE IT\'s latest triage of the escalation ("" until triaged).',
    )
    case = serializers.SerializerMethodField(help_text="The systemic case it is part of (title and status), or null.")
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
            "cpe_owner",
            "triage_outcome",
            "triaged_at",
            "allowed_transitions",
            "case",
            "events",
        )
        read_only_fields = fields

    @extend_schema_field(IssueCaseSerializer(allow_null=True))
    def get_case(self, issue: Issue) -> dict[str, Any] | None:
        case = case_of_issue(issue=issue)
        return None if case is None else IssueCaseSerializer(case).data  # type: ignore[return-value]

    @extend_schema_field(serializers.ListField(child=serializers.ChoiceField(choices=route.TRANSITIONS)))
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


# Actions: a serializer per row of the route table (issues.route) ---------------------------------


class TransitionSerializer(serializers.Serializer[Any]):
    """The common part of every transition request: which transition to run."""

    transition = serializers.ChoiceField(choices=route.TRANSITIONS)


class ActionSerializer(serializers.Serializer[Any]):
    """The body of one row of the route table, built by `action_serializer`.

    Its fields describe the row's fields for the schema; it does not validate them. It reads each
    as sent (a yes or no sent as the string "true" or "false" coerced to a bool) and hands them to the service,
    which validates every field: its ValidationError is the API's 400. A field not sent is passed
    as None, which the service takes as its default or the issue's own value. A transition's body
    names the transition and may carry no field the transition does not take."""

    action: ClassVar[route.Action]

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, Mapping):
            raise serializers.ValidationError(
                {api_settings.NON_FIELD_ERRORS_KEY: [f"Send an object of fields, not {type(data).__name__}."]}
            )
        values: dict[str, Any] = {}
        if self.action.changes_state:
            values["transition"] = self.fields["transition"].run_validation(data.get("transition", empty))
            taken = {"transition", *self.action.field_names}
            unknown = sorted(set(data) - taken)
            if unknown:
                name = self.action.name
                raise serializers.ValidationError({field: [f"'{name}' does not take this field."] for field in unknown})
        values.update({f.name: _read(f, data.get(f.name)) for f in self.action.fields})
        return values


def _read(f: route.Field, value: Any) -> Any:
    if f.kind in (route.FLAG, route.YES_NO) and isinstance(value, str):
        if value in serializers.BooleanField.TRUE_VALUES:
            return True
        if value in serializers.BooleanField.FALSE_VALUES:
            return False
    return value


def _api_field(f: route.Field) -> serializers.Field:
    described: dict[str, Any] = {"help_text": f.description()}
    if f.kind in (route.FLAG, route.YES_NO):
        return serializers.BooleanField(required=f.required, **described)
    if f.kind == route.CHOICE:
        if f.default is not None:
            described["default"] = f.default
        else:
            described["required"] = f.required
        return serializers.ChoiceField(choices=[(option.means, option.label) for option in f.options], **described)
    return serializers.CharField(required=f.required, allow_blank=not f.required, max_length=f.max_length, **described)


def action_serializer(action: route.Action) -> type[ActionSerializer]:
    """The serializer class of a row, named after it ("resolve": ResolveSerializer, the schema's
    "Resolve"), its docstring the row in words."""
    attrs: dict[str, Any] = {f.name: _api_field(f) for f in action.fields}
    if action.changes_state:
        attrs["transition"] = serializers.ChoiceField(choices=route.TRANSITIONS)
    attrs.update(action=action, __doc__=action.summary(), __module__=__name__)
    return type(f"{action.name.title().replace('_', '')}Serializer", (ActionSerializer,), attrs)


TRANSITION_SERIALIZERS: dict[str, type[ActionSerializer]] = {
    row.name: action_serializer(row) for row in route.TRANSITION_ROWS
}
NoteSerializer = action_serializer(route.NOTE)
PhoneCallSerializer = action_serializer(route.PHONE_CALL)
RaReplySerializer = action_serializer(route.RA_REPLY)
LpcWorkSerializer = action_serializer(route.LPC_WORK)


# The LPC officer's dashboard (issues.selectors.lpc.lpc_dashboard).


class AreaCountSerializer(serializers.Serializer[Any]):
    key = serializers.CharField(
        read_only=True, help_text="What is counted: a state, an RA's id, a kind, or an ageing band's number."
    )
    label = serializers.CharField(read_only=True)  # type: ignore[assignment]  # a field, not Field.label
    area = serializers.IntegerField(read_only=True, help_text="Issues of the LPC's area, involved or not.")
    involved = serializers.IntegerField(
        read_only=True, help_text="Of those, the issues the LPC is involved in (which the list shows)."
    )
    overdue = serializers.IntegerField(read_only=True, help_text="Of the area's issues, those overdue.")


class AreaCountsSerializer(serializers.Serializer[Any]):
    by_state = AreaCountSerializer(many=True, read_only=True, help_text="Every issue of the area, by state.")
    closed_as_of = serializers.DateTimeField(
        read_only=True,
        allow_null=True,
        help_text="When the closed states of by_state (resolved, withdrawn) were counted, with the figures; "
        "the open states are counted now. null: all counted now.",
    )
    by_ra = AreaCountSerializer(
        many=True, read_only=True, help_text='Open issues per RA (key "" for pharmacies without one).'
    )
    by_kind = AreaCountSerializer(many=True, read_only=True, help_text="Open issues per kind of problem.")
    ageing = AreaCountSerializer(
        many=True, read_only=True, help_text="Open issues by working days in their current state."
    )


class LpcSummarySerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)


class LpcDashboardSerializer(serializers.Serializer[Any]):
    lpcs = LpcSummarySerializer(many=True, read_only=True, help_text="The LPCs you are an officer of.")
    waiting_on_lpc = IssueListSerializer(
        many=True,
        read_only=True,
        help_text="Open issues waiting on the LPC (LPC action, LPC follow-up, returned by CPE IT): overdue first, "
        "then by deadline.",
    )
    more_waiting = serializers.BooleanField(read_only=True, help_text="More wait on the LPC than are listed.")
    waiting_on_others = IssueListSerializer(
        many=True, read_only=True, help_text="The LPC's other open issues (waiting on the RA, CPE IT...)."
    )
    more_others = serializers.BooleanField(read_only=True)
    counts = AreaCountsSerializer(source="*", read_only=True)


TriageSerializer = action_serializer(route.TRIAGE)


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
