"""The route table: every action a person can take on an issue, each declared once (DESIGN.md, "One
rule, one place", "The issue's state machine", "Labels" and "Work inside a step").

A row (`Transition` or `Work`) says:

- its name. A transition is also the django-fsm method of that name on `Issue`, whose decorator
  gives its source and target states: they are read from it here, never written a second time;
- who may take it: named rules over the user's Roles for the issue (issues.permissions), combined
  like `is_staff | is_owner`;
- where: a transition from its FSM sources, work in the states it lists; and `conditions` on the
  issue itself (a kind only the RA can fix, the reopen window, "the RA was asked"), each with the
  words that say why not. What the directory or the timeline must hold (an RA with an email, an
  LPC address, RA correspondence) is checked by the service when the action is tried, since its
  message says what to report missing;
- its fields: the page's label and hint, and the cleaner (issues.fields) that validates the field,
  declared once. A field may be one that only some roles may set (`cc_lpc`: the owner) or that may
  be set only where a condition holds (`with_ra`: once the RA was asked);
- its label: the action's title on the issue page, its button, its success message, and the words
  of "<doing> is not possible now" and "Only <who> can <verb>";
- the window it starts: the window of the state it leads to (STATE_WINDOWS, beside the table), its
  length in issues.windows;
- the function of issues.services that takes it (one typed, keyword-only function per row).

Who reads it: the services (permission, state, conditions and fields, in that order, then the
row's own work), the selectors (the actions a user may take now), issues.forms (a form per row),
issues.api.serializers (a serializer per row), the API's transitions endpoint and its schema, and the
issue page (titles, buttons, messages). Adding a transition touches its model method, its service
function and its row here, nothing else: tests/issues/test_route.py holds each row to its FSM
method, to its service function's signature, and to the form and serializer built from it.

"RA asked" is defined once, here, on the table itself: the issue is in a state the route reaches
through contact_ra (RA_ASKED_STATES: ra_contacted, lpc_cc, escalated). The state, not "is there RA
correspondence" (issues.correspondence.forwards), because correspondence counts what an RA reply
or call would add, so it could not decide whether one may be logged; the state is on the issue
already loaded and answers without a query.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone
from django_fsm import RETURN_VALUE, can_proceed

from issues.fields import (
    MAX_NAME,
    MAX_TEXT,
    FieldErrors,
    clean_bool,
    clean_choice,
    clean_cpe_it_member,
    clean_phone,
    clean_smartcard,
    clean_text,
    cpe_it_people,
)
from issues.models import OPEN_STATES, Deadline, Issue, State, Step, TriageOutcome, kind_needs_ra
from issues.permissions import (
    Roles,
    Who,
    anyone_in_scope,
    is_cpe_it,
    is_lpc_officer,
    is_owner,
    is_reporter,
    is_staff,
)

# Kinds of field: how a page draws it and what the API takes.
TEXT = "text"  # several lines of text
LINE = "line"  # one line of text
CHOICE = "choice"  # one of `options`, as radios
FLAG = "flag"  # a checkbox: yes or no, no when not given
YES_NO = "yes_no"  # a yes or no that must be answered, as two radios (`options`)
PERSON = "person"  # one of the people `people()` lists (by email address); the user themself when none is chosen

Cleaner = Callable[[FieldErrors, Any, Mapping[str, Any]], Any]


@dataclass(frozen=True)
class Option:
    """One answer of a choice: `value` as the page posts it, `label` as the page shows it, and what it
    `means` to the service (and the API, which takes the meaning itself)."""

    value: str
    label: str
    means: Any


@dataclass(frozen=True)
class Condition:
    """Something the issue itself must be for an action (or a field's "yes") to be offered and taken."""

    name: str  # as the API's description says it: "Only when <name>."
    holds: Callable[[Issue], bool]
    refusal: Callable[[Issue], str]


@dataclass(frozen=True, kw_only=True)
class Field:
    """One input of an action. `clean(errors, value, given)` validates it (issues.fields), with the
    other given values at hand (a Smartcard number depends on "no card yet")."""

    name: str
    label: str
    kind: str
    clean: Cleaner
    required: bool = False  # must be sent (otherwise the service's default, or the issue's own value)
    hint: str = ""
    max_length: int | None = None
    options: tuple[Option, ...] = ()
    default: Any = None  # the value when none is given
    from_issue: bool = False  # when not given, the issue's own field of the same name
    who: Who | None = None  # only these roles may answer yes ...
    verb: str = ""  # ... to this: "Only the pharmacy's owner can <verb>."
    only_if: Condition | None = None  # yes only where this holds
    people: Callable[[], list[tuple[str, str]]] | None = None  # PERSON: (email address, name) to choose from

    def description(self) -> str:
        """The field as the API's schema describes it."""
        parts = [self.label.removesuffix(" (optional)").rstrip("?:") + "."]
        if self.hint:
            parts.append(self.hint)
        if self.from_issue:
            parts.append("Defaults to the issue's.")
        if self.who is not None:
            parts.append(f"Only {self.who.name} can {self.verb}.")
        if self.only_if is not None:
            parts.append(f"Yes only when {self.only_if.name}.")
        if self.kind == PERSON:
            parts.append("An email address; defaults to you.")
        return " ".join(parts)


@dataclass(frozen=True, kw_only=True)
class Label:
    """What the pages say about an action, in the words of the route: what the person does now."""

    title: str  # the action on the issue page: "Move on to CIS self-service"
    button: str  # its form's button
    success: str  # the message once it is done
    doing: str  # "<doing> is not possible now: the issue is '<state>'."
    verb: str  # "Only <who> can <verb>."
    success_when: tuple[tuple[str, Any, str], ...] = ()  # (field, value, message) instead of `success`

    def success_for(self, fields: Mapping[str, Any]) -> str:
        for name, value, message in self.success_when:
            if fields.get(name) == value:
                return message
        return self.success


@dataclass(frozen=True, kw_only=True)
class Action:
    """A row of the route table (see the module's docstring)."""

    name: str
    label: Label
    who: Who
    service: str  # the issues.services function that takes it
    fields: tuple[Field, ...] = ()
    conditions: tuple[Condition, ...] = ()
    own_page: bool = False  # taken on a page of its own (contact_ra), not in a form on the issue page

    @property
    def changes_state(self) -> bool:
        return False

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def possible_from(self, issue: Issue) -> bool:
        raise NotImplementedError

    def where(self) -> str:
        raise NotImplementedError

    def forbidden(self, roles: Roles, given: Mapping[str, Any]) -> str | None:
        """Why these roles may not take it with these (cleaned) values, or None when they may."""
        if not roles.any:
            return "You cannot see this issue."
        if not self.who(roles):
            return f"Only {self.who.name} can {self.label.verb}."
        for f in self.fields:
            if f.who is not None and given.get(f.name) is True and not f.who(roles):
                return f"Only {f.who.name} can {f.verb}."
        return None

    def not_now(self, issue: Issue, given: Mapping[str, Any]) -> str | None:
        """Why the issue does not allow it now with these (cleaned) values, or None when it does."""
        if not self.possible_from(issue):
            return f"{self.label.doing} is not possible now: the issue is '{issue.get_state_display()}'."  # type: ignore[attr-defined]
        for condition in self.conditions:
            if not condition.holds(issue):
                return condition.refusal(issue)
        for f in self.fields:
            if f.only_if is not None and given.get(f.name) is True and not f.only_if.holds(issue):
                return f.only_if.refusal(issue)
        return None

    def offered(self, roles: Roles, issue: Issue) -> bool:
        """Whether to offer it to these roles on this issue now (its plain form, no field saying yes)."""
        return self.forbidden(roles, {}) is None and self.not_now(issue, {}) is None

    def summary(self) -> str:
        """The row in words, for the API's schema."""
        parts = [f"{self.label.title}: {self.where()}.", f"Who: {self.who.name}."]
        parts += [f"Only when {condition.name}." for condition in self.conditions]
        return " ".join(parts)


def _fsm_transitions(name: str) -> Any:
    """The django-fsm transitions of the Issue method `name`, by source state."""
    return getattr(Issue, name)._django_fsm.transitions


@dataclass(frozen=True, kw_only=True)
class Transition(Action):
    """An action that moves the issue along the route: `Issue.<name>` is its django-fsm method."""

    @property
    def changes_state(self) -> bool:
        return True

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(_fsm_transitions(self.name))

    @property
    def targets(self) -> tuple[str, ...]:
        targets: list[str] = []
        for fsm in _fsm_transitions(self.name).values():
            states = fsm.target.allowed_states if isinstance(fsm.target, RETURN_VALUE) else [fsm.target]
            targets += [str(state) for state in states if str(state) not in targets]
        return tuple(targets)

    @property
    def starts(self) -> dict[str, str]:
        """The window it starts, by the state it leads to (none: it stops the clock)."""
        return {state: STATE_WINDOWS[state] for state in self.targets if state in STATE_WINDOWS}

    def possible_from(self, issue: Issue) -> bool:
        return can_proceed(getattr(issue, self.name))

    def where(self) -> str:
        text = f"from {' or '.join(self.sources)} to {' or '.join(self.targets)}"
        windows = [f"the {Deadline(kind).label} window in {state}" for state, kind in self.starts.items()]
        return text + (f"; starts {' or '.join(windows)}" if windows else "; stops the clock")


@dataclass(frozen=True, kw_only=True)
class Work(Action):
    """Work inside a step: an action that writes an event and changes no state."""

    states: tuple[str, ...]

    def possible_from(self, issue: Issue) -> bool:
        return issue.state in self.states

    def where(self) -> str:
        if set(self.states) == set(State.values):
            return "in any state"
        if set(self.states) == set(OPEN_STATES):
            return "while the issue is open"
        return f"in {' or '.join(self.states)}"


# The window each state starts when an issue enters it (DESIGN.md's first table, "waiting on");
# a state not listed stops the clock. A transition starts the window of the state it leads to.
STATE_WINDOWS: dict[str, str] = {
    State.RA_CONTACTED: Deadline.RA_REPLY,
    State.LPC_CC: Deadline.LPC_ACTION,
    State.ESCALATED: Deadline.CPE_TRIAGE,
}


def reopen_deadline(issue: Issue) -> datetime | None:
    """Until when a resolved issue may be reopened (settings.REOPEN_WITHIN_DAYS after it was resolved)."""
    if issue.resolved_at is None:
        return None
    return issue.resolved_at + timedelta(days=settings.REOPEN_WITHIN_DAYS)


# Fields -----------------------------------------------------------------------------------------


def _text(
    name: str,
    label: str,
    *,
    says: str,
    required: bool,
    hint: str = "",
    max_length: int = MAX_TEXT,
    kind: str = TEXT,
    from_issue: bool = False,
) -> Field:
    """Text; `says` names it in the messages ("Enter <says>.")."""
    must_be_filled = required or from_issue  # the issue's own value may be replaced, never emptied

    def clean(errors: FieldErrors, value: Any, given: Mapping[str, Any]) -> str:
        return clean_text(errors, name, value, label=says, required=must_be_filled, max_length=max_length)

    return Field(
        name=name,
        label=label,
        kind=kind,
        clean=clean,
        required=required,
        hint=hint,
        max_length=max_length,
        from_issue=from_issue,
    )


def _flag(name: str, label: str, *, hint: str = "", **extra: Any) -> Field:
    def clean(errors: FieldErrors, value: Any, given: Mapping[str, Any]) -> bool:
        return clean_bool(errors, name, value)

    return Field(name=name, label=label, kind=FLAG, clean=clean, hint=hint, **extra)


def _choice(
    name: str, label: str, options: tuple[Option, ...], *, says: str, required: bool, default: Any = None
) -> Field:
    def clean(errors: FieldErrors, value: Any, given: Mapping[str, Any]) -> str:
        return clean_choice(errors, name, value, [option.means for option in options], label=says)

    return Field(name=name, label=label, kind=CHOICE, clean=clean, required=required, options=options, default=default)


def _yes_no(name: str, label: str, *, yes: Option, no: Option, says: str, only_if: Condition) -> Field:
    def clean(errors: FieldErrors, value: Any, given: Mapping[str, Any]) -> bool:
        return clean_bool(errors, name, value, required_label=says)

    return Field(name=name, label=label, kind=YES_NO, clean=clean, required=True, options=(yes, no), only_if=only_if)


def _clean_phone(errors: FieldErrors, value: Any, given: Mapping[str, Any]) -> str:
    return clean_phone(errors, "contact_phone", value)


def _clean_smartcard(errors: FieldErrors, value: Any, given: Mapping[str, Any]) -> str:
    return clean_smartcard(errors, value, given.get("no_card_yet") is True, required=True)


SEND_VIA_APP = "app"
SEND_VIA_OWN_MAIL = "own_mail"
SEND_VIA_CHOICES = (SEND_VIA_APP, SEND_VIA_OWN_MAIL)

# Conditions -------------------------------------------------------------------------------------

PHARMACY_CAN_TRY = Condition(
    name="the pharmacy can try to fix this kind of problem itself",
    holds=lambda issue: not kind_needs_ra(issue.kind),
    refusal=lambda issue: (
        f"Only the RA can fix this kind of problem ({issue.get_kind_display()}), so there is no "  # type: ignore[attr-defined]
        "Care Identity Service self-service step: contact the RA."
    ),
)

WITHIN_REOPEN_WINDOW = Condition(
    name="it was resolved less than REOPEN_WITHIN_DAYS days ago (a setting)",
    holds=lambda issue: (deadline := reopen_deadline(issue)) is not None and timezone.now() <= deadline,
    refusal=lambda issue: (
        f"An issue can only be reopened within {settings.REOPEN_WITHIN_DAYS} days of being resolved. "
        "Report a new problem instead."
    ),
)

KNOWS_WHERE_IT_WAS_RESOLVED = Condition(
    name="it records the step it was resolved from",
    holds=lambda issue: issue.resolved_from_state in OPEN_STATES,
    refusal=lambda issue: "This issue does not record the step it was resolved from; report it again.",
)

# The transitions (DESIGN.md's transition table) -------------------------------------------------

TRY_CIS = Transition(
    name="try_cis",
    label=Label(
        title="Move on to CIS self-service",
        button="Move on to CIS",
        success="You are now trying Care Identity Service self-service.",
        doing="Moving on to Care Identity Service self-service",
        verb="move the issue on to Care Identity Service self-service",
    ),
    who=is_staff | is_owner,
    conditions=(PHARMACY_CAN_TRY,),
    fields=(
        _text(
            "note",
            "A note for the timeline (optional)",
            says="a note",
            required=False,
            hint="For example, what the checks in the pharmacy showed.",
        ),
    ),
    service="issue_try_cis",
)

CONTACT_RA = Transition(
    name="contact_ra",
    label=Label(
        title="Contact the RA",
        button="Continue",
        success="Your request is on its way to the RA. Their reply will appear on this page.",
        success_when=(
            (
                "send_via",
                SEND_VIA_OWN_MAIL,
                "You sent the request to the RA from your own email. Their reply will appear on this page.",
            ),
        ),
        doing="Contacting the RA",
        verb="contact the RA",
    ),
    who=is_staff | is_owner,
    own_page=True,
    fields=(
        _text(
            "contact_name",
            "Your name",
            says="a contact name",
            required=False,
            max_length=MAX_NAME,
            kind=LINE,
            from_issue=True,
            hint="Who the RA should contact.",
        ),
        Field(
            name="contact_phone",
            label="Phone number",
            kind=LINE,
            clean=_clean_phone,
            from_issue=True,
            hint="A UK number the RA can call.",
        ),
        Field(
            name="smartcard_number",
            label="Smartcard number",
            kind=LINE,
            clean=_clean_smartcard,
            from_issue=True,
            hint="12 digits, with or without spaces; none with no_card_yet.",
        ),
        _flag("no_card_yet", "No card yet (a new team member, or the card is lost)", from_issue=True),
        _text("question", "Your question for the RA", says="your question for the RA", required=True),
        _flag(
            "cc_lpc",
            "Copy in our LPC now",
            hint="The issue goes to the LPC at once (lpc_cc).",
            who=is_owner,
            verb="copy the LPC in",
        ),
        _choice(
            "send_via",
            "How do you want to send it?",
            (
                Option(SEND_VIA_APP, "Send it from Smartcard Route", SEND_VIA_APP),
                Option(SEND_VIA_OWN_MAIL, "Send it from your own email", SEND_VIA_OWN_MAIL),
            ),
            says="how the request is sent",
            required=False,
            default=SEND_VIA_APP,
        ),
    ),
    service="issue_contact_ra",
)

CC_LPC = Transition(
    name="cc_lpc",
    label=Label(
        title="Copy in your LPC",
        button="Copy in the LPC",
        success="Your LPC is copied in: we have sent them the correspondence with the RA.",
        doing="Copying in the LPC",
        verb="copy the LPC in",
    ),
    who=is_owner,
    fields=(
        _text(
            "note",
            "A note for the LPC (optional)",
            says="a note for the LPC",
            required=False,
            hint="We forward the correspondence with the RA to your LPC, with this note.",
        ),
    ),
    service="issue_cc_lpc",
)

ESCALATE_TO_CPE = Transition(
    name="escalate_to_cpe",
    label=Label(
        title="Escalate to the CPE IT team",
        button="Escalate to CPE IT",
        success="The CPE IT team now has the issue and the correspondence with the RA.",
        doing="Escalating to CPE IT",
        verb="escalate to CPE IT",
    ),
    who=is_lpc_officer,
    fields=(
        _text(
            "note",
            "What the LPC has tried, and why it needs CPE IT",
            says="what the LPC has tried and why it needs CPE IT",
            required=True,
            hint="We forward the correspondence with the RA to CPE's IT team with this note.",
        ),
    ),
    service="issue_escalate_to_cpe",
)

RESOLVE = Transition(
    name="resolve",
    label=Label(
        title="Mark it as resolved",
        button="Mark as resolved",
        success="The issue is resolved.",
        doing="Resolving",
        verb="resolve it",
    ),
    who=anyone_in_scope,
    fields=(
        _choice(
            "fixed_by_step",
            "What fixed it?",
            tuple(Option(step.value, step.label, step.value) for step in Step),
            says="the step that fixed it",
            required=True,
        ),
        _text("note", "How it was fixed", says="how the problem was fixed", required=True),
    ),
    service="issue_resolve",
)

REOPEN = Transition(
    name="reopen",
    label=Label(
        title="Reopen it",
        button="Reopen the issue",
        success="The issue is open again, at the step it was resolved from.",
        doing="Reopening",
        verb="reopen it",
    ),
    who=is_staff | is_owner,
    conditions=(WITHIN_REOPEN_WINDOW, KNOWS_WHERE_IT_WAS_RESOLVED),
    fields=(_text("reason", "Why are you reopening it?", says="why you are reopening the issue", required=True),),
    service="issue_reopen",
)

WITHDRAW = Transition(
    name="withdraw",
    label=Label(
        title="Withdraw it",
        button="Withdraw the issue",
        success="The issue is withdrawn.",
        doing="Withdrawing",
        verb="withdraw it",
    ),
    who=is_reporter | is_owner,
    fields=(_text("reason", "Why are you withdrawing it?", says="why you are withdrawing the issue", required=True),),
    service="issue_withdraw",
)

TRANSITION_ROWS: tuple[Transition, ...] = (TRY_CIS, CONTACT_RA, CC_LPC, ESCALATE_TO_CPE, RESOLVE, REOPEN, WITHDRAW)
TRANSITIONS: tuple[str, ...] = tuple(row.name for row in TRANSITION_ROWS)  # the API's TransitionEnum


def _open_states_after(first: Transition) -> frozenset[str]:
    """The open states an issue can be in once `first` was taken: its targets and every open state
    the route leads on to from them."""
    reached: set[str] = set()
    frontier = [state for state in first.targets if state in OPEN_STATES]
    while frontier:
        state = frontier.pop()
        reached.add(state)
        frontier += [
            target
            for row in TRANSITION_ROWS
            if state in row.sources
            for target in row.targets
            if target in OPEN_STATES and target not in reached
        ]
    return frozenset(reached)


# "RA asked": the one definition (see the module's docstring).
RA_ASKED_STATES: frozenset[str] = _open_states_after(CONTACT_RA)

RA_ASKED = Condition(
    name="the RA has been asked (the issue is ra_contacted, lpc_cc or escalated)",
    holds=lambda issue: issue.state in RA_ASKED_STATES,
    refusal=lambda issue: (
        "The RA has not been asked about this issue yet: contact the RA first. A reply or a call with "
        "the RA can be logged once the request is sent."
    ),
)


def ra_asked(issue: Issue) -> bool:
    """Whether the issue's RA has been asked (RA_ASKED_STATES): only then does an RA reply count."""
    return RA_ASKED.holds(issue)


# Work inside a step (DESIGN.md's "Work inside a step") -------------------------------------------


def _clean_cpe_owner(errors: FieldErrors, value: Any, given: Mapping[str, Any]) -> Any:
    return clean_cpe_it_member(errors, "owner", value, label="who owns it")


TRIAGE = Work(
    name="triage",
    label=Label(
        title="Triage it",
        button="Record the triage",
        success="Your triage is recorded.",
        success_when=(
            (
                "outcome",
                TriageOutcome.RETURNED_TO_LPC,
                "Your triage is recorded, and your advice is on its way to the LPC.",
            ),
        ),
        doing="Triaging",
        verb="triage an escalation",
    ),
    who=is_cpe_it,
    states=(State.ESCALATED,),
    fields=(
        Field(
            name="owner",
            label="Who in CPE IT owns it?",
            kind=PERSON,
            clean=_clean_cpe_owner,
            hint="You, unless you choose someone else in the team.",
            people=cpe_it_people,
        ),
        _choice(
            "outcome",
            "What happens now?",
            tuple(Option(outcome.value, outcome.label, outcome.value) for outcome in TriageOutcome),
            says="what happens now",
            required=True,
        ),
        _text(
            "note",
            "Triage note",
            says="a triage note",
            required=True,
            hint="What CPE IT found and will do. When you return it to the LPC, this is the advice we email them.",
        ),
    ),
    service="issue_triage",
)

RA_REPLY = Work(
    name="ra_reply",
    label=Label(
        title="Log the RA's reply",
        button="Log the reply",
        success="The RA's reply is on the timeline.",
        doing="Logging the RA's reply",
        verb="log the RA's reply",
    ),
    who=anyone_in_scope,
    states=tuple(OPEN_STATES),
    conditions=(RA_ASKED,),
    fields=(
        _text(
            "text",
            "What the RA said",
            says="what the RA said",
            required=True,
            hint="Copy the reply here if it reached you outside Smartcard Route, for example in your own mailbox.",
        ),
    ),
    service="issue_log_ra_reply",
)

PHONE_CALL = Work(
    name="phone_call",
    label=Label(
        title="Log a phone call",
        button="Log the call",
        success="The call is on the timeline.",
        doing="Logging a phone call",
        verb="log a phone call",
    ),
    who=anyone_in_scope,
    states=tuple(OPEN_STATES),
    fields=(
        _yes_no(
            "with_ra",
            "Who did you speak to?",
            yes=Option("ra", "The RA", True),
            no=Option("other", "Someone else", False),
            says="who you spoke to",
            only_if=RA_ASKED,
        ),
        _text("text", "What was said", says="what was said on the call", required=True),
    ),
    service="issue_log_phone_call",
)

NOTE = Work(
    name="note",
    label=Label(
        title="Add a note",
        button="Add the note",
        success="Your note is on the timeline.",
        doing="Adding a note",
        verb="add a note",
    ),
    who=anyone_in_scope,
    states=tuple(State.values),
    fields=(_text("text", "Note", says="the note", required=True),),
    service="issue_add_note",
)

# The LPC's work with the RA or the NHS England regional team (DESIGN.md, "Work inside a step").
LPC_WITH_RA = "ra"
LPC_WITH_NHSE = "nhse_region"
LPC_BY_NOTE = "note"
LPC_BY_CALL = "call"
LPC_BY_EMAIL = "email"
MAX_EMAIL = 254

LPC_WITH_WHOM = (
    Option(LPC_WITH_RA, "The RA", LPC_WITH_RA),
    Option(LPC_WITH_NHSE, "The NHS England regional team", LPC_WITH_NHSE),
)
LPC_HOW = (
    Option(LPC_BY_NOTE, "A note of work done", LPC_BY_NOTE),
    Option(LPC_BY_CALL, "A phone call", LPC_BY_CALL),
    Option(LPC_BY_EMAIL, "An email sent from Smartcard Route", LPC_BY_EMAIL),
)


def _clean_lpc_contact(errors: FieldErrors, value: Any, given: Mapping[str, Any]) -> str:
    """The address of the contact an LPC officer emails: only for an email, checked as an address;
    needed for the NHS England regional team (for the RA, blank means the RA's address in the
    directory, which the service looks up)."""
    if value is not None and not isinstance(value, str):
        errors.add("to", "Enter the email address as text.")
        return ""
    address = (value or "").strip()
    if given.get("how") != LPC_BY_EMAIL:
        return ""  # a note or a call is sent to nobody: an address typed before choosing is not kept
    if not address:
        if given.get("with_whom") == LPC_WITH_NHSE:
            errors.add("to", "Enter the email address of your contact at the NHS England regional team.")
        return ""
    if len(address) > MAX_EMAIL:
        errors.add("to", f"The email address must be {MAX_EMAIL} characters or fewer.")
        return ""
    try:
        validate_email(address)
    except ValidationError:
        errors.add("to", "Enter an email address in the correct format, like name@example.nhs.uk.")
        return ""
    return address


LPC_STEP = Condition(
    name="the LPC is awaited: the issue is lpc_cc, or CPE IT returned it to the LPC with advice",
    holds=lambda issue: issue.state == State.LPC_CC or issue.triage_outcome == TriageOutcome.RETURNED_TO_LPC,
    refusal=lambda issue: (
        "The CPE IT team has this issue now: LPC work can be logged again if they return it to the LPC."
    ),
)

LPC_WORK = Work(
    name="lpc_work",
    label=Label(
        title="Log the LPC's work with the RA or NHS England",
        button="Log the work",
        success="Your work is on the timeline. We will remind you to follow it up.",
        success_when=(("how", LPC_BY_EMAIL, "Your email is on its way. The reply will appear on this page."),),
        doing="Logging the LPC's work",
        verb="log the LPC's work",
    ),
    who=is_lpc_officer,
    states=(State.LPC_CC, State.ESCALATED),
    conditions=(LPC_STEP,),
    fields=(
        _choice("with_whom", "Who did you work with?", LPC_WITH_WHOM, says="who you worked with", required=True),
        _choice("how", "How?", LPC_HOW, says="how you worked with them", required=True),
        Field(
            name="to",
            label="Their email address (for an email)",
            kind=LINE,
            clean=_clean_lpc_contact,
            max_length=MAX_EMAIL,
            hint=(
                "Only for an email: the contact you are writing to. For the RA, leave it blank to use the "
                "RA's address in the directory. Their reply comes back to this issue."
            ),
        ),
        _text(
            "text",
            "What was done or said (for an email, its message)",
            says="what was done or said",
            required=True,
        ),
    ),
    service="issue_log_lpc_work",
)


def lpc_work_in_words(*, with_whom: str, how: str, to: str = "") -> str:
    """The LPC's work as the timeline says it: 'A phone call with the RA', 'An email to
    x@example.nhs.uk (the NHS England regional team)'."""
    whom = {LPC_WITH_RA: "the RA", LPC_WITH_NHSE: "the NHS England regional team"}.get(with_whom, with_whom)
    if how == LPC_BY_EMAIL:
        return f"An email to {to} ({whom}), sent from Smartcard Route"
    if how == LPC_BY_CALL:
        return f"A phone call with {whom}"
    return f"Work with {whom}"


# Every row, in the order the issue page offers them: the next step of the route, the work inside
# a step, closing (or reopening) the issue, and a note at any time.
ROUTE: tuple[Action, ...] = (
    TRY_CIS,
    CONTACT_RA,
    CC_LPC,
    ESCALATE_TO_CPE,
    LPC_WORK,
    TRIAGE,
    RA_REPLY,
    PHONE_CALL,
    RESOLVE,
    REOPEN,
    WITHDRAW,
    NOTE,
)
ACTIONS: dict[str, Action] = {row.name: row for row in ROUTE}
assert set(TRANSITIONS) <= set(ACTIONS) and len(ACTIONS) == len(ROUTE), "each row once, by a name of its own"


def allowed_actions(roles: Roles, issue: Issue) -> list[Action]:
    """The rows these roles may take on this issue now, in the table's order."""
    return [row for row in ROUTE if row.offered(roles, issue)]


__all__ = [
    "ACTIONS",
    "CHOICE",
    "FLAG",
    "LINE",
    "LPC_BY_CALL",
    "LPC_BY_EMAIL",
    "LPC_BY_NOTE",
    "LPC_WITH_NHSE",
    "LPC_WITH_RA",
    "PERSON",
    "RA_ASKED_STATES",
    "ROUTE",
    "SEND_VIA_APP",
    "SEND_VIA_CHOICES",
    "SEND_VIA_OWN_MAIL",
    "STATE_WINDOWS",
    "TEXT",
    "TRANSITIONS",
    "TRANSITION_ROWS",
    "YES_NO",
    "Action",
    "Condition",
    "Field",
    "Label",
    "Option",
    "Transition",
    "Work",
    "allowed_actions",
    "lpc_work_in_words",
    "ra_asked",
    "reopen_deadline",
]
