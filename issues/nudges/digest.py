"""Immediate emails or a daily digest: each person's choice, and the weekday digest that lists
the reminders waiting for them (NudgeDigestItem rows the sweep wrote)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from directory.models import User
from issues.correspondence.outbound import queue_outbound_email, render_bodies
from issues.models import OPEN_STATES, Deadline, MailPurpose, NotificationPreference, NudgeDigestItem
from issues.nudges.rules import ACTION_ANCHORS, SUBJECTS, Links, Role, london
from smartcard_route.mail.models import OutboundEmail

logger = logging.getLogger(__name__)

Delivery = NotificationPreference.Delivery


@dataclass
class DigestResult:
    emails: int = 0
    items: int = 0
    dropped: int = 0  # settled without listing: the issue has moved on since the reminder


def nudge_digests_send(*, now: datetime | None = None, users_per_query: int = 500) -> DigestResult:
    """One email per person with pending digest items, listing them; exactly once.

    For each person, in a transaction of their own:
    1. lock their pending items (FOR UPDATE SKIP LOCKED on PostgreSQL: a digest run at the same time
       skips them);
    2. drop items whose issue has moved on (closed, or no longer waiting for the same thing);
    3. queue one digest email (sent after commit) listing the rest, newest reminder per issue;
    4. settle every item with a conditional UPDATE (only items still pending): if another run
       settled any first, roll back this person's digest.
    """
    now = now or timezone.now()
    result = DigestResult()
    links = Links()
    after = 0
    while True:
        user_ids = list(
            NudgeDigestItem.objects.filter(settled_at__isnull=True, user_id__gt=after)
            .order_by("user_id")
            .values_list("user_id", flat=True)
            .distinct()[:users_per_query]
        )
        if not user_ids:
            return result
        for user_id in user_ids:
            _send_digest(user_id=user_id, now=now, links=links, result=result)
        after = user_ids[-1]


class _LostRace(Exception):
    pass


def _send_digest(*, user_id: int, now: datetime, links: Links, result: DigestResult) -> None:
    try:
        with transaction.atomic():
            items = list(
                NudgeDigestItem.objects.filter(user_id=user_id, settled_at__isnull=True, created_at__lte=now)
                .select_for_update(skip_locked=True, of=("self",))
                .select_related("user", "issue", "issue__pharmacy", "event")
                .order_by("created_at", "pk")
            )
            if not items:
                return
            user = items[0].user
            current: dict[int, NudgeDigestItem] = {}
            for item in items:
                issue = item.issue
                if issue.state in OPEN_STATES and issue.due_kind == item.due_kind:
                    current[issue.pk] = item  # the newest reminder per issue wins
            listed = list(current.values())
            email: OutboundEmail | None = None
            if listed and user.is_active and user.email:
                email = _queue_digest(user=user, items=listed, links=links, now=now)
            settled = NudgeDigestItem.objects.filter(pk__in=[i.pk for i in items], settled_at__isnull=True).update(
                settled_at=now, digest_email=email
            )
            if settled != len(items):
                raise _LostRace
    except _LostRace:
        logger.info("Digest for user %s was settled by another run; nothing sent twice.", user_id)
        return
    result.items += len(items)
    result.dropped += len(items) - len(listed)
    result.emails += 1 if email is not None else 0


def _queue_digest(*, user: User, items: list[NudgeDigestItem], links: Links, now: datetime) -> OutboundEmail:
    entries = []
    for item in items:
        issue = item.issue
        reference = issue.reference
        key = (item.due_kind, item.role)
        entries.append(
            {
                "reference": reference,
                "summary": issue.summary,
                "pharmacy_name": issue.pharmacy.name,
                "ods_code": issue.pharmacy.ods_code,
                "state_label": issue.get_state_display(),  # type: ignore[attr-defined]
                "step": SUBJECTS.get(key, "Please take the next step"),
                "what": item.event.text,
                "reminder": item.event.data.get("reminder"),
                "is_emergency": issue.is_emergency,
                "issue_url": links.issue(reference),
                "cc_lpc_url": links.issue(reference, ACTION_ANCHORS["cc_lpc"])
                if key == (Deadline.RA_REPLY, Role.OWNER)
                else "",
            }
        )
    count = len(entries)
    context = {"name": user.full_name or user.email, "entries": entries, "date": london(now), "count": count}
    text, html = render_bodies("digest_nudges", context)
    references = ", ".join(f"[{entry['reference']}]" for entry in entries[:5])
    more = f" and {count - 5} more" if count > 5 else ""
    subject = f"Smartcard Route: {count} issue{'' if count == 1 else 's'} waiting for your next step {references}{more}"
    return queue_outbound_email(
        purpose=MailPurpose.DIGEST,
        to=[user.email],
        subject=subject,
        body_text=text,
        body_html=html,
        reply_to="",
    )


def notification_preference_set(*, user: User, nudge_delivery: str) -> NotificationPreference:
    """Choose immediate reminders or the daily digest. Reminders already waiting for a digest stay
    there; new ones follow the new choice."""
    if nudge_delivery not in Delivery.values:
        raise ValidationError({"nudge_delivery": ["Choose how you want your reminders."]})
    preference, _ = NotificationPreference.objects.update_or_create(
        user=user, defaults={"nudge_delivery": nudge_delivery}
    )
    return preference
