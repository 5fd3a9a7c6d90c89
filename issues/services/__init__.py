"""Every write to an issue.

Each service is typed, keyword-only, and runs in one transaction. The route table (issues.route)
declares each action once; its service, one function per row (`row.service` names it):

1. checks who may (the row's rule over the user's roles): IssueActionForbidden, saying who may;
2. checks the issue allows it now (its state, the row's conditions): TransitionNotAllowedNow,
   naming the state or the reason;
3. validates its fields (the row's cleaners, issues.fields): ValidationError({field: [messages]});
4. checks what the directory or the timeline must hold (an RA with an email, an LPC address, RA
   correspondence): TransitionNotAllowedNow;
5. for a transition, runs the django-fsm method and saves with update_fields (optimistic locking
   on the state); for work inside a step, reads the issue's row locked;
6. writes the event (TRANSITION, NOTE, PHONE_CALL, RA_REPLY, LPC_WORK), any outbox rows (sent after commit),
   and sets or clears the clock with a CLOCK event.

Nothing is saved when any step fails. A lost race (someone else changed the state since the issue
was loaded) raises IssueChangedConcurrently, caught outside the atomic block so the whole
transaction is rolled back. After any failure the `issue` object passed in is reloaded from the
database, so callers never hold a half-changed issue.

Text is stored as typed (stripped of surrounding white space); escaping is the templates' job.

The package's modules: `reporting` (a new issue), `transitions` (the route's transitions),
`cases` (systemic cases, whose status rules are issues.case_rules), `timeline` (notes, phone
calls, the RA's replies, what mail from the RA counts for, and the clock change a reply makes),
`lpc` (the LPC officer's work with the RA or the NHS England regional team, and the follow-up
window it starts), `triage` (CPE IT's triage of an escalation), `steps` (the row's checks every
service runs first), `correspondence` (the RA thread and the LPC forward) and `events` (timeline
events and the clock). Import from `issues.services`, which re-exports the public names.
`retention` (redacting personal data past the retention period, a nightly task's) is imported from
its own module.
"""

from collections.abc import Callable
from typing import Any

from issues.correspondence.outbound import RaRequest, issue_ra_request_preview
from issues.fields import MAX_NAME, MAX_SUMMARY, MAX_TEXT
from issues.route import ROUTE
from issues.services.cases import (
    CaseActionForbidden,
    CaseChangedConcurrently,
    case_add_issues,
    case_close,
    case_create,
    case_edit,
    case_record_guidance,
    case_record_highlight,
    case_remove_issue,
)
from issues.services.events import CLOCK_FIELDS, STATE_WINDOWS
from issues.services.lpc import issue_log_lpc_work
from issues.services.reporting import issue_report
from issues.services.timeline import (
    issue_add_note,
    issue_log_phone_call,
    issue_log_ra_reply,
    issue_record_ra_email,
    issue_record_ra_response,
)
from issues.services.transitions import (
    issue_cc_lpc,
    issue_contact_ra,
    issue_contact_ra_preview,
    issue_escalate_to_cpe,
    issue_reopen,
    issue_resolve,
    issue_try_cis,
    issue_withdraw,
)
from issues.services.triage import issue_triage
from issues.windows import window_days

# The service of each row of the route table, by the row's name: only for the edges that receive an
# action by name (the issue page's action URL and the API's transitions endpoint). Everything else
# calls the function itself. A row whose service is missing fails here, at import.
ACTION_SERVICES: dict[str, Callable[..., Any]] = {row.name: globals()[row.service] for row in ROUTE}

__all__ = [
    "ACTION_SERVICES",
    "CLOCK_FIELDS",
    "MAX_NAME",
    "MAX_SUMMARY",
    "MAX_TEXT",
    "STATE_WINDOWS",
    "CaseActionForbidden",
    "CaseChangedConcurrently",
    "RaRequest",
    "case_add_issues",
    "case_close",
    "case_create",
    "case_edit",
    "case_record_guidance",
    "case_record_highlight",
    "case_remove_issue",
    "issue_add_note",
    "issue_cc_lpc",
    "issue_contact_ra",
    "issue_contact_ra_preview",
    "issue_escalate_to_cpe",
    "issue_log_lpc_work",
    "issue_log_phone_call",
    "issue_log_ra_reply",
    "issue_ra_request_preview",
    "issue_record_ra_email",
    "issue_record_ra_response",
    "issue_reopen",
    "issue_report",
    "issue_resolve",
    "issue_triage",
    "issue_try_cis",
    "issue_withdraw",
    "window_days",
]
