"""The route table (issues.route): each row against its FSM method, its service, its form, its serializer
and the API schema, so that adding a transition touches its model method, its service function and
its row, and nothing else."""

from __future__ import annotations

import inspect
import json

import pytest
from django.core.exceptions import ValidationError

from issues import route, services
from issues.api.serializers import TRANSITION_SERIALIZERS, action_serializer
from issues.forms import ACTION_FORMS, action_form
from issues.models import RA_ONLY_KINDS, Issue, Kind, State
from issues.permissions import Roles, is_owner, is_reporter, is_staff
from issues.services.steps import checked
from tests.issues.factories import IssueFactory


def test_it_has_a_row_for_every_transition_of_the_state_machine_and_reads_its_states_from_it():
    fsm = Issue._meta.get_field("state").get_all_transitions(Issue)  # type: ignore[attr-defined]
    by_name: dict[str, list[tuple[str, str]]] = {}
    for transition in fsm:
        by_name.setdefault(transition.name, []).append(transition.source)
    assert set(by_name) == set(route.TRANSITIONS)
    for row in route.TRANSITION_ROWS:
        assert sorted(row.sources) == sorted(by_name[row.name]), row.name
    # DESIGN.md's transition table, as the rows read it from the decorators.
    assert route.CONTACT_RA.targets == (State.RA_CONTACTED, State.LPC_CC)
    assert route.REOPEN.targets == tuple(State.values[:5])
    assert route.ESCALATE_TO_CPE.starts == {State.ESCALATED: "cpe_triage"}
    assert route.RESOLVE.starts == {}


@pytest.mark.parametrize("row", route.ROUTE, ids=lambda row: row.name)
def test_it_takes_each_row_by_one_keyword_only_service_with_the_rows_fields(row):
    service = getattr(services, row.service)
    assert services.ACTION_SERVICES[row.name] is service
    parameters = inspect.signature(service).parameters
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in parameters.values())
    assert set(parameters) == {"user", "issue", *row.field_names}
    required = {name for name, p in parameters.items() if p.default is inspect.Parameter.empty}
    assert required == {"user", "issue", *(f.name for f in row.fields if f.required)}


@pytest.mark.parametrize("row", route.ROUTE, ids=lambda row: row.name)
def test_it_builds_each_rows_form_and_serializer_from_its_fields(row):
    form = ACTION_FORMS[row.name](roles=Roles(owner=True))
    assert list(form.fields) == list(row.field_names)
    assert [form.fields[f.name].label for f in row.fields] == [f.label for f in row.fields]
    serializer = action_serializer(row)()
    expected = {*row.field_names, "transition"} if row.changes_state else set(row.field_names)
    assert set(serializer.fields) == expected
    for f in row.fields:
        assert serializer.fields[f.name].required == (f.required and f.default is None), f.name


def test_it_needs_nothing_but_a_row_for_a_new_actions_form_serializer_and_checks(issue, staff):
    """A row no code knows about (a made-up transition on withdraw's FSM method, with a field of its
    own) gets its form, its serializer and its service's checks from the table alone."""
    new = route.Transition(
        name="withdraw",
        label=route.Label(
            title="Close it as a duplicate",
            button="Close it",
            success="Closed as a duplicate.",
            doing="Closing",
            verb="close it",
        ),
        who=is_staff,
        fields=(route._text("duplicate_of", "Which issue?", says="the issue", required=True, kind=route.LINE),),
        service="issue_withdraw",
    )
    form = action_form(new)({"duplicate_of": " SC-000001 "})
    assert form.service_fields() == {"duplicate_of": "SC-000001"}
    assert set(action_serializer(new)().fields) == {"transition", "duplicate_of"}
    assert new.offered(Roles(staff=True), issue)
    assert not new.offered(Roles(owner=True), issue)
    with pytest.raises(ValidationError) as raised:
        checked(new, user=staff, issue=issue, given={"duplicate_of": ""})
    assert raised.value.message_dict == {"duplicate_of": ["Enter the issue."]}
    assert checked(new, user=staff, issue=issue, given={"duplicate_of": "SC-000001"}) == {"duplicate_of": "SC-000001"}


def test_it_lists_the_rows_in_the_api_schema(client, staff):
    client.force_login(staff)
    schema = json.loads(client.get("/api/schema/?format=json").content)
    operation = schema["paths"]["/api/v1/issues/{reference}/transitions/"]["post"]
    for row in route.TRANSITION_ROWS:
        assert f"| `{row.name}` |" in operation["description"]
    request = schema["components"]["schemas"]["TransitionRequest"]
    assert list(request["discriminator"]["mapping"]) == list(route.TRANSITIONS)
    assert schema["components"]["schemas"]["TransitionEnum"]["enum"] == list(route.TRANSITIONS)
    for name, serializer in TRANSITION_SERIALIZERS.items():
        component = schema["components"]["schemas"][serializer.__name__.removesuffix("Serializer")]
        assert component["description"] == route.ACTIONS[name].summary()
    ra_replies = schema["paths"]["/api/v1/issues/{reference}/ra-replies/"]["post"]
    assert "409" in ra_replies["responses"]
    assert ra_replies["summary"] == route.RA_REPLY.label.title


def test_it_defines_ra_asked_once_as_the_states_after_contact_ra():
    assert frozenset({State.RA_CONTACTED, State.LPC_CC, State.ESCALATED}) == route.RA_ASKED_STATES
    assert route.RA_ASKED in route.RA_REPLY.conditions
    assert route.PHONE_CALL.fields[0].only_if is route.RA_ASKED


def test_it_names_who_may_take_an_action():
    assert (is_staff | is_owner).name == "the pharmacy's staff or owner"
    assert (is_reporter | is_owner).name == "the person who reported it or the pharmacy's owner"
    assert (is_staff | is_owner)(Roles(owner=True))
    assert not (is_staff | is_owner)(Roles(lpc_officer=True))


def test_it_words_every_action_as_what_the_person_does_now():
    assert route.TRY_CIS.label.title == "Move on to CIS self-service"
    assert route.TRY_CIS.label.success == "You are now trying Care Identity Service self-service."
    for row in route.ROUTE:
        label = row.label
        assert all((label.title, label.button, label.success, label.doing, label.verb)), row.name
        words = " ".join((label.title, label.button, label.success)).lower()
        assert "i have" not in words and "recorded:" not in words, row.name


@pytest.mark.parametrize("kind", Kind.values)
def test_it_never_offers_the_cis_step_for_a_kind_only_the_ra_can_fix(kind, pharmacy, staff):
    issue = IssueFactory.create(pharmacy=pharmacy, reporter=staff, kind=kind)
    assert route.TRY_CIS.offered(Roles(staff=True), issue) == (kind not in RA_ONLY_KINDS)
    assert route.CONTACT_RA.offered(Roles(staff=True), issue)
