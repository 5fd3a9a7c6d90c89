"""A nudge's email, rendered when the outbox sends it (registered with the mail layer in
IssuesConfig.ready): the sweep queues each one with its template (TEMPLATES) and the recipient's
role only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings

from issues.correspondence.outbound import tracking_address
from issues.models import Deadline, EventKind, Issue, IssueEvent, IssueOutboundEmail
from issues.nudges.rules import (
    ACTION_ANCHORS,
    AUDIENCE_WORDS,
    Links,
    london,
    max_reminders,
)
from issues.windows import window_in_words
from smartcard_route.mail.models import OutboundEmail


def nudge_email_context(email: OutboundEmail) -> dict[str, Any]:
    """The template context of a nudge's outbox row, when it is sent (the outbox renders the row's
    template with it): the issue as it is then, and what the sweep recorded in the row's NUDGE
    event (which deadline passed, the reminder's number, when the next one comes)."""
    link = IssueOutboundEmail.objects.filter(email=email).values_list("issue_id", "event_id").first()
    if link is None or link[1] is None:
        raise ValueError(f"Outbound email {email.pk} is a reminder without its issue or its NUDGE event.")
    issue_id, event_id = link
    issue = Issue.objects.select_related("pharmacy__ra", "pharmacy__lpc").get(pk=issue_id)
    facts = IssueEvent.objects.values_list("data", flat=True).get(pk=event_id, kind=EventKind.NUDGE)
    due_kind = Deadline(facts["due_kind"])
    pharmacy, links = issue.pharmacy, Links()
    ra, lpc = pharmacy.ra, pharmacy.lpc
    reference = issue.reference
    return {
        "reference": reference,
        "summary": issue.summary,
        "kind_label": issue.get_kind_display(),  # type: ignore[attr-defined]
        "pharmacy_name": pharmacy.name,
        "ods_code": pharmacy.ods_code,
        "ra_name": ra.name if ra else "",
        "ra_phone": ra.phone if ra else "",
        "ra_email": ra.email if ra else "",
        "lpc_name": lpc.name if lpc else "",
        "is_emergency": issue.is_emergency,
        "contact_name": issue.contact_name,
        "contact_phone": issue.contact_phone,
        "state_label": issue.get_state_display(),  # type: ignore[attr-defined]
        "deadline": london(datetime.fromisoformat(facts["deadline"])),
        "window": window_in_words(due_kind, is_emergency=issue.is_emergency),
        "audience": AUDIENCE_WORDS[due_kind],
        "reminder": facts["reminder"],
        "max_reminders": max_reminders(),
        "next_reminder": london(datetime.fromisoformat(facts["next_due"])),
        "issue_url": links.issue(reference),
        "cc_lpc_url": links.issue(reference, ACTION_ANCHORS["cc_lpc"]),
        "escalate_url": links.issue(reference, ACTION_ANCHORS["escalate_to_cpe"]),
        "resolve_url": links.issue(reference, ACTION_ANCHORS["resolve"]),
        "lpc_work_url": links.issue(reference, ACTION_ANCHORS["lpc_work"]),
        "tracking_address": tracking_address(issue),
        "site_url": settings.SITE_URL,
    }
