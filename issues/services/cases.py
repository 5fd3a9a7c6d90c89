"""Every write to a systemic case (DESIGN.md, "LPC officers and CPE IT"; step 7 of the route).

Each service is typed, keyword-only, runs in one transaction, and:

1. checks the user is in the CPE IT team (CaseActionForbidden otherwise: cases are theirs alone);
2. locks the case's row (select_for_update) and checks, on the row as it is now, that its status
   allows the change (issues.case_rules; TransitionNotAllowedNow saying why not);
3. validates the fields (ValidationError({field: [messages]}), every bad field at once), and for
   issues: each must be one the user can see and not already in a case, the error naming it;
4. saves the case with update_fields and writes one CaseEvent per change; adding or removing an
   issue also writes a CASE event on that issue's timeline (record_event) carrying the case's
   reference and title only, since the pharmacy and the LPC see that timeline;
5. closing with a notice queues one email per issue through the outbox, on the issue's thread
   (sent after commit).

Nothing is saved when any step fails. Two people adding the same issue to two cases at once: the
second finds it taken (its row is locked first; on a database without row locks the unique link
refuses it, CaseChangedConcurrently). After any failure the `case` passed in is reloaded.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from directory.models import User
from issues import case_rules
from issues.correspondence.outbound import (
    issue_url,
    queue_outbound_email,
    render_bodies,
    subject_for,
    thread_message_ids,
)
from issues.events import record_event
from issues.exceptions import IssueActionForbidden, IssueChangedConcurrently, TransitionNotAllowedNow
from issues.fields import MAX_SUMMARY, MAX_TEXT, FieldErrors, clean_text
from issues.models import (
    CaseEvent,
    CaseEventKind,
    CaseIssue,
    EventKind,
    Issue,
    MailPurpose,
    SystemicCase,
    format_reference,
    parse_reference,
)
from issues.selectors import issues_visible_to

MAX_RECIPIENT = 254  # SystemicCase.highlighted_to
# A moment typed a little ahead of the server's clock is still "now".
CLOCK_SLACK = timedelta(minutes=5)


class CaseActionForbidden(IssueActionForbidden):
    default_message = "Only the CPE IT team can change systemic cases."


class CaseChangedConcurrently(IssueChangedConcurrently):
    default_message = "This case was changed by someone else. Check the latest details and try again."


IssueRef = Issue | str | int


def _require_cpe_it(user: User) -> None:
    if not (user.is_authenticated and user.is_active and user.is_cpe_it):
        raise CaseActionForbidden()


@contextmanager
def _changing(case: SystemicCase, *, user: User, action: str) -> Iterator[SystemicCase]:
    """One transaction around a change to a case: the permission, the case's row locked, its status
    checked against issues.case_rules. Yields the locked row; on any failure `case` is reloaded,
    and a unique link refused by the database is CaseChangedConcurrently."""
    _require_cpe_it(user)
    try:
        with transaction.atomic():
            locked = SystemicCase.objects.select_for_update().get(pk=case.pk)
            if not case_rules.case_action_allowed(action, locked.status):
                raise TransitionNotAllowedNow(case_rules.NOT_NOW[action])
            yield locked
    except IntegrityError:
        case.refresh_from_db()
        raise CaseChangedConcurrently() from None
    except Exception:
        case.refresh_from_db()
        raise
    for name in (f.attname for f in SystemicCase._meta.concrete_fields):
        setattr(case, name, getattr(locked, name))


def _event(
    case: SystemicCase,
    *,
    kind: str,
    actor: User,
    text: str = "",
    issue: Issue | None = None,
    data: dict[str, Any] | None = None,
    now: datetime,
) -> CaseEvent:
    """The one writer of CaseEvent rows."""
    return CaseEvent.objects.create(
        case=case, kind=kind, actor=actor, issue=issue, text=text, data=data or {}, created_at=now
    )


def _issue_pk(ref: IssueRef) -> int | None:
    if isinstance(ref, Issue):
        return ref.pk
    if isinstance(ref, int):
        return ref
    return parse_reference(str(ref))


def _issues_to_add(*, user: User, refs: Sequence[IssueRef], case: SystemicCase | None) -> list[Issue]:
    """The issues named, each visible to the user and in no case yet, their rows locked; else a
    ValidationError on "issues" naming each one that is not."""
    errors = FieldErrors()
    pks: list[int] = []
    for ref in refs:
        pk = _issue_pk(ref)
        if pk is None:
            errors.add("issues", f"“{ref}” is not an issue reference, like SC-000123.")
        elif pk not in pks:
            pks.append(pk)
    if not pks and not errors.errors:
        errors.add("issues", "Choose at least one issue.")
    errors.raise_if_any()
    # Lock the issues' rows (no joins: PostgreSQL locks no outer join's nullable side), so two cases
    # taking the same issue at once serialise here.
    found = {issue.pk: issue for issue in issues_visible_to(user).filter(pk__in=pks).select_for_update(of=("self",))}
    taken = {link.issue_id: link.case for link in CaseIssue.objects.filter(issue_id__in=pks).select_related("case")}
    for pk in pks:
        if pk not in found:
            errors.add("issues", f"There is no issue {format_reference(pk)}, or you cannot see it.")
        elif pk in taken:
            other = taken[pk]
            where = (
                "this case"
                if case is not None and other.pk == case.pk
                else f"systemic case {other.reference}: {other.title}"
            )
            errors.add("issues", f"{format_reference(pk)} is already in {where}.")
    errors.raise_if_any()
    return [found[pk] for pk in pks]


def _issue_event(issue: Issue, case: SystemicCase, *, user: User, now: datetime, change: str) -> None:
    """The CASE event on the issue's own timeline: the case's reference and title only (what
    everyone who sees the issue may know of its case)."""
    words = {"added": "Added to", "removed": "Taken out of"}[change]
    record_event(
        issue,
        kind=EventKind.CASE,
        actor=user,
        text=f"{words} systemic case {case.reference}: {case.title}",
        data={"case": case.reference, "case_title": case.title, "change": change},
        now=now,
    )


def _link(case: SystemicCase, issues: list[Issue], *, user: User, now: datetime) -> None:
    """Link the issues to the case: the link rows, an ISSUE_ADDED case event and a CASE issue event each."""
    CaseIssue.objects.bulk_create([CaseIssue(case=case, issue=issue, added_by=user, added_at=now) for issue in issues])
    for issue in issues:
        _event(case, kind=CaseEventKind.ISSUE_ADDED, actor=user, issue=issue, text=issue.reference, now=now)
        _issue_event(issue, case, user=user, now=now, change="added")


def _clean_title_description(title: Any, description: Any) -> tuple[str, str]:
    errors = FieldErrors()
    clean_title = clean_text(errors, "title", title, label="a title", required=True, max_length=MAX_SUMMARY)
    clean_description = clean_text(errors, "description", description, label="the description", required=False)
    errors.raise_if_any()
    return clean_title, clean_description


def case_create(*, user: User, title: str, description: str, issues: Sequence[IssueRef]) -> SystemicCase:
    """Open a case holding these issues (a selection from a list, or an accepted suggestion).

    Each issue must be visible to the user and not already in a case (ValidationError on "issues",
    naming it). Writes the case, a CREATED case event, and for each issue its link, an ISSUE_ADDED
    case event and a CASE event on the issue."""
    _require_cpe_it(user)
    clean_title, clean_description = _clean_title_description(title, description)
    now = timezone.now()
    try:
        with transaction.atomic():
            chosen = _issues_to_add(user=user, refs=issues, case=None)
            case = SystemicCase.objects.create(
                title=clean_title, description=clean_description, created_by=user, created_at=now
            )
            _event(case, kind=CaseEventKind.CREATED, actor=user, text=clean_title, now=now)
            _link(case, chosen, user=user, now=now)
    except IntegrityError:
        raise CaseChangedConcurrently(
            "One of these issues was just put in another case. Check and try again."
        ) from None
    return case


def case_add_issues(*, user: User, case: SystemicCase, issues: Sequence[IssueRef]) -> list[Issue]:
    """Add issues to a case not closed (the same checks as case_create); returns them."""
    now = timezone.now()
    with _changing(case, user=user, action=case_rules.ADD_ISSUES) as locked:
        chosen = _issues_to_add(user=user, refs=issues, case=locked)
        _link(locked, chosen, user=user, now=now)
        locked.save(update_fields=["updated_at"])
    return chosen


def case_remove_issue(*, user: User, case: SystemicCase, issue: IssueRef) -> Issue:
    """Take one issue out of a case not closed: its link goes, an ISSUE_REMOVED case event and a
    CASE event on the issue keep the trace. The issue may then join another case."""
    now = timezone.now()
    with _changing(case, user=user, action=case_rules.REMOVE_ISSUE) as locked:
        pk = _issue_pk(issue)
        link = CaseIssue.objects.filter(case=locked, issue_id=pk).select_related("issue").first() if pk else None
        if link is None:
            raise ValidationError({"issue": [f"{issue if pk is None else format_reference(pk)} is not in this case."]})
        removed = link.issue
        link.delete()
        _event(locked, kind=CaseEventKind.ISSUE_REMOVED, actor=user, issue=removed, text=removed.reference, now=now)
        _issue_event(removed, locked, user=user, now=now, change="removed")
        locked.save(update_fields=["updated_at"])
    return removed


def case_edit(*, user: User, case: SystemicCase, title: str, description: str) -> SystemicCase:
    """Change a case's title and description (not once closed); an EDITED event keeps the old ones."""
    clean_title, clean_description = _clean_title_description(title, description)
    now = timezone.now()
    with _changing(case, user=user, action=case_rules.EDIT) as locked:
        if (locked.title, locked.description) != (clean_title, clean_description):
            before = {"title": locked.title, "description": locked.description}
            locked.title, locked.description = clean_title, clean_description
            locked.save(update_fields=["title", "description", "updated_at"])
            _event(locked, kind=CaseEventKind.EDITED, actor=user, text=clean_title, data={"before": before}, now=now)
    return case


def _clean_moment(errors: FieldErrors, name: str, value: Any, *, label: str, now: datetime) -> datetime | None:
    if not isinstance(value, datetime):
        errors.add(name, f"Enter {label}.")
        return None
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    if value > now + CLOCK_SLACK:
        errors.add(name, f"{label[0].upper()}{label[1:]} must be in the past.")
        return None
    return value


def case_record_highlight(
    *, user: User, case: SystemicCase, highlighted_at: datetime, to: str, text: str
) -> SystemicCase:
    """Record the highlight to NHS England's Transformation Directorate: when it was sent, to whom,
    what was sent. The case becomes highlighted (from open, or highlighted again: the new highlight
    replaces the one before, whose words its HIGHLIGHTED event keeps)."""
    now = timezone.now()
    errors = FieldErrors()
    moment = _clean_moment(errors, "highlighted_at", highlighted_at, label="when it was sent", now=now)
    clean_to = clean_text(errors, "to", to, label="who it was sent to", required=True, max_length=MAX_RECIPIENT)
    clean_body = clean_text(errors, "text", text, label="what was sent", required=True, max_length=MAX_TEXT * 4)
    errors.raise_if_any()
    with _changing(case, user=user, action=case_rules.HIGHLIGHT) as locked:
        locked.status = case_rules.CASE_ACTION_TARGETS[case_rules.HIGHLIGHT]
        locked.highlighted_at, locked.highlighted_to, locked.highlight_text = moment, clean_to, clean_body
        locked.save(update_fields=["status", "highlighted_at", "highlighted_to", "highlight_text", "updated_at"])
        _event(
            locked,
            kind=CaseEventKind.HIGHLIGHTED,
            actor=user,
            text=clean_body,
            data={"to": clean_to, "at": moment.isoformat() if moment else ""},
            now=now,
        )
    return case


def case_record_guidance(*, user: User, case: SystemicCase, received_at: datetime, text: str) -> SystemicCase:
    """Record the guidance NHS England sent back, once the case was highlighted (not before the
    highlight was sent). The case becomes guidance_received; a later answer replaces the text."""
    now = timezone.now()
    errors = FieldErrors()
    moment = _clean_moment(errors, "received_at", received_at, label="when it came", now=now)
    clean_body = clean_text(errors, "text", text, label="the guidance", required=True, max_length=MAX_TEXT * 4)
    errors.raise_if_any()
    with _changing(case, user=user, action=case_rules.GUIDANCE) as locked:
        if moment and locked.highlighted_at and moment < locked.highlighted_at:
            raise ValidationError({"received_at": ["The guidance cannot have come before the highlight was sent."]})
        locked.status = case_rules.CASE_ACTION_TARGETS[case_rules.GUIDANCE]
        locked.guidance_received_at, locked.guidance_text = moment, clean_body
        locked.save(update_fields=["status", "guidance_received_at", "guidance_text", "updated_at"])
        _event(
            locked,
            kind=CaseEventKind.GUIDANCE,
            actor=user,
            text=clean_body,
            data={"at": moment.isoformat() if moment else ""},
            now=now,
        )
    return case


def case_notice_recipients(issue: Issue) -> tuple[list[str], list[str]]:
    """Who hears that an issue's case closed: the pharmacy (its email, else its owner's, else the
    reporter's), and its LPC's address once the LPC was involved in the issue (Cc)."""
    pharmacy = issue.pharmacy
    owner_email = pharmacy.owner.email if pharmacy.owner_id and pharmacy.owner else ""
    to = [pharmacy.email or owner_email or issue.reporter.email]
    lpc = pharmacy.lpc
    cc = [lpc.email] if lpc is not None and lpc.email and issue.lpc_involved_at is not None else []
    return to, cc


def _queue_notice(case: SystemicCase, issue: Issue, *, user: User, now: datetime) -> None:
    to, cc = case_notice_recipients(issue)
    event = record_event(
        issue,
        kind=EventKind.CASE,
        actor=user,
        text=f"Systemic case {case.reference} closed: {case.title}. A notice was sent to the pharmacy.",
        data={"case": case.reference, "case_title": case.title, "change": "closed"},
        now=now,
    )
    context = {"issue": issue, "case": case, "pharmacy": issue.pharmacy, "issue_url": issue_url(issue)}
    body_text, body_html = render_bodies("case_closed_notice", context)
    thread = thread_message_ids(issue)
    queue_outbound_email(
        purpose=MailPurpose.CASE_NOTICE,
        to=to,
        cc=cc,
        subject=subject_for(issue, f"Update on your Smartcard problem: {case.title}"),
        body_text=body_text,
        body_html=body_html,
        issue=issue,
        event=event,
        in_reply_to=thread[-1] if thread else "",
        references=thread,
    )


def case_close(*, user: User, case: SystemicCase, note: str, notify: bool) -> SystemicCase:
    """Close a case (final: nothing changes it after). The note says the outcome, in words for the
    pharmacies; with `notify`, each issue's pharmacy and LPC (case_notice_recipients) get a notice
    through the outbox, on the issue's thread: the case is closed, the note and the guidance."""
    now = timezone.now()
    errors = FieldErrors()
    clean_note = clean_text(errors, "note", note, label="a closing note", required=True)
    if not isinstance(notify, bool):
        errors.add("notify", "Choose whether to tell the pharmacies and LPCs.")
    errors.raise_if_any()
    with _changing(case, user=user, action=case_rules.CLOSE) as locked:
        locked.status = case_rules.CASE_ACTION_TARGETS[case_rules.CLOSE]
        locked.closed_at, locked.closing_note = now, clean_note
        locked.save(update_fields=["status", "closed_at", "closing_note", "updated_at"])
        _event(locked, kind=CaseEventKind.CLOSED, actor=user, text=clean_note, data={"notified": notify}, now=now)
        if notify:
            issues = Issue.objects.filter(case_link__case=locked).select_related(
                "pharmacy", "pharmacy__owner", "pharmacy__lpc", "reporter"
            )
            for issue in issues:
                _queue_notice(locked, issue, user=user, now=now)
    return case
