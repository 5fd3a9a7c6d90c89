"""The access matrix's table (tests/test_access_matrix.py): for every route of the URL
configuration, how to build its URL with objects inside and outside a persona's scope, who may read
it (GET) and who may take its action (POST). A route missing here fails the matrix.

Expectations follow DESIGN.md ("People and what they may see"), written here independently of the
code under test: anonymous visitors are sent to the login page (pages) or answered 401 (the API);
an object or a page outside a persona's scope answers 404; an action a persona may not take on an
object they can see answers 403; nothing ever answers 500.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from tests.access.world import USERS, World

PAGE, API, PUBLIC, WEBHOOK, ADMIN = "page", "api", "public", "webhook", "admin"

EVERYONE = frozenset(USERS)
NOBODY: frozenset[str] = frozenset()
CPE_IT = frozenset({"cpe_it"})
PHARMACY_PEOPLE = frozenset({"staff_a", "owner_a", "staff_b"})
OFFICERS = frozenset({"officer_a", "officer_b"})
DIRECTORY_MANAGER = frozenset({"directory_manager"})

# Who sees each issue of the world (issues_visible_to, by DESIGN).
SEES_ISSUE = {
    "issue_a": frozenset({"staff_a", "owner_a", "officer_a", "cpe_it"}),
    "issue_a_quiet": frozenset({"staff_a", "owner_a", "cpe_it"}),
    "issue_b": frozenset({"staff_b", "officer_b", "cpe_it"}),
}

# Who may take each row of the route table on issue A (DESIGN.md, the state machine and "Work inside
# a step"), on an issue they can see. staff_a reported A's issues.
STAFF = frozenset({"staff_a", "staff_b"})  # each the reporter of their pharmacy's issues
OWNER = frozenset({"owner_a"})
MAY_TAKE = {
    "try_cis": STAFF | OWNER,
    "contact_ra": STAFF | OWNER,
    "cc_lpc": OWNER,
    "escalate_to_cpe": OFFICERS,
    "resolve": EVERYONE,
    "reopen": STAFF | OWNER,
    "withdraw": STAFF | OWNER,
    "triage": CPE_IT,
    "ra_reply": EVERYONE,
    "phone_call": EVERYONE,
    "note": EVERYONE,
    "lpc_work": OFFICERS,
}
ISSUE_OBJECTS = ("issue_a", "issue_a_quiet", "issue_b")


@dataclass(frozen=True)
class Route:
    kind: str
    # object label -> URL kwargs (a route that names no object has one label, "-")
    objects: Callable[[World], Mapping[str, Mapping[str, Any]]] = lambda w: {"-": {}}
    # (persona, object label) -> may read; a frozenset means these personas, whatever the object
    read: frozenset[str] | Callable[[str, str], bool] = NOBODY
    # who may POST (None: the route takes no POST, any answer but 500 and a leak is fine)
    post: frozenset[str] | Callable[[str, str], bool] | None = None
    # GET answers for a persona who may read (default 200; 302 for pages that send you on)
    ok: frozenset[int] = frozenset({200})
    actions: tuple[str, ...] = field(default=())
    anonymous: int | None = None  # what an anonymous visitor gets, when not the kind's usual answer


def may(rule: frozenset[str] | Callable[[str, str], bool] | None, persona: str, label: str) -> bool:
    if rule is None:
        return False
    if isinstance(rule, frozenset):
        return persona in rule
    return rule(persona, label)


def _issues(w: World) -> dict[str, dict[str, Any]]:
    return {label: {"reference": w.objects[label].reference} for label in ISSUE_OBJECTS}


def _sees_issue(persona: str, label: str) -> bool:
    return persona in SEES_ISSUE[label]


def _case(w: World) -> dict[str, dict[str, Any]]:
    return {"case": {"reference": w.objects["case"].reference}}


def _pk(name: str) -> Callable[[World], dict[str, dict[str, Any]]]:
    return lambda w: {name: {"pk": w.objects[name].pk}}


def _entry_kinds(w: World) -> dict[str, dict[str, Any]]:
    return {kind: {"kind": kind} for kind in ("ras", "lpcs", "owners", "pharmacies", "icbs")}


def _entries(w: World) -> dict[str, dict[str, Any]]:
    """One entry of each kind the directory manager keeps."""
    objects = {
        "ras": "ra",
        "lpcs": "lpc_a",
        "owners": "owner_a_organisation",
        "pharmacies": "pharmacy_b",
        "icbs": "icb",
    }
    return {name: {"kind": kind, "pk": w.objects[name].pk} for kind, name in objects.items()}


def _attachment_visible(persona: str, label: str) -> bool:
    return persona in SEES_ISSUE["issue_a"]


ROUTES: dict[str, Route] = {
    # Public pages.
    "home": Route(PUBLIC, read=EVERYONE, ok=frozenset({200, 302})),
    "healthz": Route(PUBLIC, read=EVERYONE),
    # Prometheus' scrape: 404 for everyone while no METRICS_TOKEN or METRICS_ALLOWED_IPS is set (as here).
    "metrics": Route(PUBLIC, read=EVERYONE, ok=frozenset({404})),
    "login": Route(PUBLIC, read=EVERYONE, ok=frozenset({200, 302})),
    "logout": Route(PUBLIC, read=EVERYONE, ok=frozenset({200, 302, 405})),
    # Sign-in with NHS CIS2: 404 for everyone while its settings are not given (as here).
    "cis2_login": Route(PUBLIC, read=EVERYONE, ok=frozenset({404})),
    "cis2_callback": Route(PUBLIC, read=EVERYONE, ok=frozenset({404})),
    "password_reset": Route(PUBLIC, read=EVERYONE),
    "password_reset_done": Route(PUBLIC, read=EVERYONE),
    "password_reset_confirm": Route(
        PUBLIC, objects=lambda w: {"bad-token": {"uidb64": "MQ", "token": "set-password"}}, read=EVERYONE
    ),
    "password_reset_complete": Route(PUBLIC, read=EVERYONE),
    # Pages for anyone signed in.
    "landing": Route(PAGE, read=EVERYONE, ok=frozenset({200, 302})),
    "notifications:notification_preferences": Route(PAGE, read=EVERYONE),
    "notifications:notification_preferences_save": Route(PAGE, read=EVERYONE, post=EVERYONE, ok=frozenset({405})),
    "directory:pharmacy_search": Route(PAGE, read=EVERYONE),
    "directory:pharmacy_detail": Route(
        PAGE, objects=lambda w: {"pharmacy_b": {"ods_code": w.objects["pharmacy_b"].ods_code}}, read=EVERYONE
    ),
    "directory:ra_list": Route(PAGE, read=EVERYONE),
    "directory:ra_detail": Route(PAGE, objects=_pk("ra"), read=EVERYONE),
    "directory:ra_report": Route(PAGE, objects=_pk("ra"), read=EVERYONE, post=EVERYONE),
    "directory:lpc_list": Route(PAGE, read=EVERYONE),
    "directory:lpc_detail": Route(PAGE, objects=_pk("lpc_a"), read=EVERYONE),
    "directory:lpc_report": Route(PAGE, objects=_pk("lpc_a"), read=EVERYONE, post=EVERYONE),
    "directory:pharmacy_report": Route(
        PAGE,
        objects=lambda w: {"pharmacy_b": {"ods_code": w.objects["pharmacy_b"].ods_code}},
        read=EVERYONE,
        post=EVERYONE,
    ),
    "directory:correction_reports": Route(PAGE, read=frozenset({"directory_manager"})),
    "directory:correction_report_detail": Route(PAGE, objects=_pk("correction_report"), read=DIRECTORY_MANAGER),
    # The directory manager's own pages (issue 11): theirs alone (and a superuser's, not in the matrix).
    "directory:manage": Route(PAGE, read=DIRECTORY_MANAGER),
    "directory:nhsbsa_upload": Route(PAGE, read=DIRECTORY_MANAGER, post=DIRECTORY_MANAGER),
    "directory:pharmacies_without_ra": Route(PAGE, read=DIRECTORY_MANAGER),
    "directory:entry_list": Route(PAGE, objects=_entry_kinds, read=DIRECTORY_MANAGER),
    "directory:entry_create": Route(PAGE, objects=_entry_kinds, read=DIRECTORY_MANAGER, post=DIRECTORY_MANAGER),
    "directory:entry_edit": Route(PAGE, objects=_entries, read=DIRECTORY_MANAGER, post=DIRECTORY_MANAGER),
    "directory:entry_history": Route(PAGE, objects=_entries, read=DIRECTORY_MANAGER),
    "directory:correction_report_done": Route(
        PAGE,
        objects=_pk("correction_report"),
        read=frozenset({"directory_manager"}),
        post=frozenset({"directory_manager"}),
        ok=frozenset({405}),
    ),
    # Subject-access export: the directory manager and CPE IT (anyone else 403).
    "subject_access:search": Route(PAGE, read=frozenset({"directory_manager", "cpe_it"})),
    "subject_access:export": Route(
        PAGE,
        read=frozenset({"directory_manager", "cpe_it"}),
        post=frozenset({"directory_manager", "cpe_it"}),
        ok=frozenset({405}),
    ),
    # Issues: lists, exports, reporting, an issue's pages and its actions.
    "issues:list": Route(PAGE, read=EVERYONE),
    "issues:export_csv": Route(PAGE, read=EVERYONE),
    "issues:report": Route(PAGE, read=PHARMACY_PEOPLE, ok=frozenset({200, 302})),
    "issues:report_step": Route(
        PAGE, objects=lambda w: {"-": {"step": "pharmacy"}}, read=PHARMACY_PEOPLE, ok=frozenset({200, 302, 404})
    ),
    "issues:detail": Route(PAGE, objects=_issues, read=_sees_issue),
    "issues:reported": Route(PAGE, objects=_issues, read=_sees_issue),
    "issues:contact_ra": Route(
        PAGE,
        objects=_issues,
        read=_sees_issue,
        post=lambda p, label: _sees_issue(p, label) and p in MAY_TAKE["contact_ra"],
        ok=frozenset({200, 302, 403, 409}),  # A's issue is past the RA step: sent back to its page
    ),
    "issues:action": Route(PAGE, objects=_issues, read=_sees_issue, ok=frozenset({405}), actions=tuple(MAY_TAKE)),
    "issues:unmatched_mail": Route(PAGE, read=CPE_IT),
    "issues:unmatched_mail_detail": Route(PAGE, objects=_pk("unmatched"), read=CPE_IT),
    "issues:unmatched_mail_attach": Route(
        PAGE, objects=_pk("unmatched"), read=CPE_IT, post=CPE_IT, ok=frozenset({200, 400, 405})
    ),
    "issues:unmatched_mail_undo": Route(PAGE, objects=_pk("unmatched"), read=CPE_IT, post=CPE_IT, ok=frozenset({405})),
    "issues:unreadable_post": Route(PAGE, objects=_pk("unreadable"), read=CPE_IT),
    "issues:inbound_attachment": Route(PAGE, objects=_pk("attachment"), read=_attachment_visible),
    # Dashboards and figures.
    "dashboards:lpc": Route(PAGE, read=OFFICERS),
    "dashboards:cpe_it": Route(PAGE, read=CPE_IT),
    "dashboards:figures": Route(PAGE, read=OFFICERS | CPE_IT),
    # Systemic cases: CPE IT's alone.
    "cases:list": Route(PAGE, read=CPE_IT),
    "cases:new": Route(PAGE, read=CPE_IT, post=CPE_IT),
    "cases:suggestions": Route(PAGE, read=CPE_IT),
    "cases:detail": Route(PAGE, objects=_case, read=CPE_IT),
    "cases:action": Route(
        PAGE,
        objects=_case,
        read=CPE_IT,
        ok=frozenset({405}),
        actions=("edit", "add_issues", "remove_issue", "highlight", "guidance", "close"),
    ),
    "cases:evidence_pack": Route(PAGE, objects=_case, read=CPE_IT),
    # The JSON API (401 without credentials).
    "api:api-root": Route(API, read=EVERYONE),
    "api-schema": Route(API, read=EVERYONE),
    # The API's reference page answers 403 with a link to log in (issues.api.docs), as the API does.
    "api-docs": Route(PAGE, read=EVERYONE, anonymous=403),
    "api:dashboard-lpc": Route(API, read=OFFICERS),
    "api:dashboard-cpe-it": Route(API, read=CPE_IT),
    "api:figures": Route(API, read=OFFICERS | CPE_IT),
    "api:issue-list": Route(API, read=EVERYONE, post=PHARMACY_PEOPLE),
    "api:issue-export": Route(API, read=EVERYONE),
    "api:issue-detail": Route(API, objects=_issues, read=_sees_issue),
    "api:issue-ra-request": Route(API, objects=_issues, read=_sees_issue),
    "api:issue-transitions": Route(API, objects=_issues, read=_sees_issue, post=_sees_issue, ok=frozenset({405})),
    "api:issue-notes": Route(API, objects=_issues, read=_sees_issue, post=_sees_issue, ok=frozenset({405})),
    "api:issue-phone-calls": Route(API, objects=_issues, read=_sees_issue, post=_sees_issue, ok=frozenset({405})),
    "api:issue-ra-replies": Route(API, objects=_issues, read=_sees_issue, post=_sees_issue, ok=frozenset({405})),
    "api:issue-lpc-work": Route(
        API,
        objects=_issues,
        read=_sees_issue,
        post=lambda p, label: _sees_issue(p, label) and p in OFFICERS,
        ok=frozenset({405}),
    ),
    "api:issue-triage": Route(
        API,
        objects=_issues,
        read=_sees_issue,
        post=lambda p, label: _sees_issue(p, label) and p in CPE_IT,
        ok=frozenset({405}),
    ),
    "api:unmatched-mail-list": Route(API, read=CPE_IT),
    "api:unmatched-mail-suggestions": Route(API, objects=_pk("unmatched"), read=CPE_IT),
    "api:unmatched-mail-attach": Route(API, objects=_pk("unmatched"), read=CPE_IT, post=CPE_IT, ok=frozenset({405})),
    "api:unmatched-mail-undo": Route(API, objects=_pk("unmatched"), read=CPE_IT, post=CPE_IT, ok=frozenset({405})),
    "api:case-list": Route(API, read=CPE_IT, post=CPE_IT),
    "api:case-suggestions": Route(API, read=CPE_IT),
    "api:case-detail": Route(API, objects=_case, read=CPE_IT),
    "api:case-evidence-pack": Route(API, objects=_case, read=CPE_IT),
    **{
        f"api:case-{name}": Route(API, objects=_case, read=CPE_IT, post=CPE_IT, ok=frozenset({405}))
        for name in ("edit", "add-issues", "remove-issue", "highlight", "guidance", "close")
    },
    # Webhooks: public, authenticated by the provider's secret (none given here: 401, or 403 while
    # no secret is configured). Mounted only for the providers the settings name (MAIL_WEBHOOK_ESPS).
    **{
        f"mail_webhooks:{esp}_{kind}": Route(WEBHOOK, read=EVERYONE, ok=frozenset({401, 403, 405}))
        for esp in settings.MAIL_WEBHOOK_ESPS
        for kind in ("inbound", "tracking")
    },
}

# The Django admin: superusers only (directory.admin.superusers_only) and nobody of the matrix is one, so every
# admin page sends them to its login page.
ADMIN_OPEN = {
    "admin:login": frozenset({200, 302}),
    "admin:logout": frozenset({200, 302, 405}),
    "admin:view_on_site": frozenset({302, 404}),
}
