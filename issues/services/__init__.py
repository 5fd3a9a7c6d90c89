"""Every write to an issue.

Each service is keyword-only and runs in one transaction. A transition (see `issue_transition`):

1. checks the user's permission for this issue (issues.permissions): IssueActionForbidden;
2. checks the issue's current state allows it: TransitionNotAllowedNow, naming the state;
3. validates its fields: ValidationError({field: [messages]});
4. checks its guard (an RA in the directory, RA correspondence, the reopen window):
   TransitionNotAllowedNow;
5. runs the django-fsm transition and saves with update_fields (optimistic locking on the state);
6. writes the TRANSITION IssueEvent, any outbox rows (sent after commit), and sets or clears the
   clock with a CLOCK event.

Nothing is saved when any step fails. A lost race (someone else changed the state since the issue
was loaded) raises IssueChangedConcurrently, caught outside the atomic block so the whole
transaction is rolled back. After any failure the `issue` object passed in is reloaded from the
database, so callers never hold a half-changed issue.

Text is stored as typed (stripped of surrounding white space); escaping is the templates' job.

The package's modules: `reporting` (a new issue), `transitions` (the state machine's transitions),
`timeline` (notes, phone calls, the RA's replies and the clock change they make), `correspondence`
(the RA thread and the LPC forward) and `events` (timeline events and the clock); field validation is
issues.fields. Import from `issues.services`, which re-exports the public names.
"""

from issues.emails import RaRequest, issue_ra_request_preview
from issues.fields import MAX_NAME, MAX_SUMMARY, MAX_TEXT
from issues.services.events import CLOCK_FIELDS, STATE_WINDOWS, WAITING_FOR, WINDOW_LABELS
from issues.services.reporting import issue_report
from issues.services.timeline import (
    issue_add_note,
    issue_log_phone_call,
    issue_log_ra_reply,
    issue_record_ra_response,
)
from issues.services.transitions import (
    SEND_VIA_APP,
    SEND_VIA_CHOICES,
    SEND_VIA_OWN_MAIL,
    TRANSITION_FIELDS,
    TRANSITIONS,
    issue_transition,
)
from issues.windows import window_days

__all__ = [
    "CLOCK_FIELDS",
    "MAX_NAME",
    "MAX_SUMMARY",
    "MAX_TEXT",
    "SEND_VIA_APP",
    "SEND_VIA_CHOICES",
    "SEND_VIA_OWN_MAIL",
    "STATE_WINDOWS",
    "TRANSITIONS",
    "TRANSITION_FIELDS",
    "WAITING_FOR",
    "WINDOW_LABELS",
    "RaRequest",
    "issue_add_note",
    "issue_log_phone_call",
    "issue_log_ra_reply",
    "issue_ra_request_preview",
    "issue_record_ra_response",
    "issue_report",
    "issue_transition",
    "window_days",
]
