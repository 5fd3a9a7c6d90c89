"""The LPC's addresses, the RA correspondence on an issue, and the forward that copies the LPC in."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from directory.models import User
from issues.correspondence import outbound
from issues.exceptions import TransitionNotAllowedNow
from issues.models import EventKind, Issue, IssueEvent, MailPurpose
from smartcard_route.mail.models import InboundEmail, OutboundEmail


def lpc_recipients(issue: Issue) -> list[str]:
    lpc = issue.pharmacy.lpc
    if lpc is None:
        return []
    addresses = [lpc.email] if lpc.email else []
    addresses += [officer.email for officer in lpc.officers.filter(is_active=True).order_by("pk")]
    return list(dict.fromkeys(address for address in addresses if address))


def require_lpc(issue: Issue) -> list[str]:
    recipients = lpc_recipients(issue)
    if not recipients:
        raise TransitionNotAllowedNow(
            "The directory has no LPC (or no LPC email address) for this pharmacy, so the LPC cannot be "
            "copied in. Report the missing details to the directory manager."
        )
    return recipients


def correspondence_context(issue: Issue) -> list[dict[str, Any]]:
    """The RA correspondence on the issue as items for the forward templates, oldest first."""
    items: list[dict[str, Any]] = []
    requests = OutboundEmail.objects.filter(issue=issue, purpose=MailPurpose.RA_REQUEST)
    for row in requests:
        items.append(
            {
                "when": row.created_at,
                "title": f"Request to the RA, sent from Smartcard Route to {', '.join(row.to)}",
                "subject": row.subject,
                "text": row.body_text,
            }
        )
    events = outbound.correspondence_for(issue)
    inbound_ids = [event.data.get("inbound_email_id") for event in events if event.kind == EventKind.EMAIL_IN]
    inbound_bodies = dict(
        InboundEmail.objects.filter(pk__in=[pk for pk in inbound_ids if pk]).values_list("pk", "body_text")
    )
    for event in events:
        data = event.data or {}
        if event.kind == EventKind.EMAIL_OUT:
            continue  # delivery receipts of the rows above and of forwards
        if event.kind == EventKind.PHONE_CALL and not data.get("with_ra"):
            continue
        if event.kind == EventKind.EMAIL_IN and data.get("automatic"):
            continue  # auto-replies are not correspondence
        who = event.actor.full_name if event.actor else str(data.get("from", ""))
        text = event.text
        inbound_id = data.get("inbound_email_id")
        body = inbound_bodies.get(int(inbound_id)) if inbound_id else None
        if body:
            text = f"{event.text}\n\n{body.strip()}"
        items.append(
            {
                "when": event.created_at,
                "title": f"{event.get_kind_display()}" + (f" ({who})" if who else ""),  # type: ignore[attr-defined]
                "subject": str(data.get("subject", "")),
                "text": text,
            }
        )
    items.sort(key=lambda item: item["when"])
    return items


def has_ra_correspondence(issue: Issue) -> bool:
    if OutboundEmail.objects.filter(issue=issue, purpose=MailPurpose.RA_REQUEST).exists():
        return True
    events = IssueEvent.objects.filter(issue=issue).exclude(outbound.TAKEN_OFF)
    if events.filter(kind__in=[EventKind.REQUEST_CONFIRMED, EventKind.EMAIL_IN, EventKind.RA_REPLY]).exists():
        return True
    return events.filter(kind=EventKind.PHONE_CALL, data__with_ra=True).exists()


def queue_forward(
    issue: Issue,
    *,
    event: IssueEvent,
    purpose: str,
    template: str,
    context: dict[str, Any],
    to: list[str],
    cc: list[str],
    subject: str,
    thread: list[str],
) -> OutboundEmail:
    """Queue an email that forwards the RA correspondence on the issue (the body from `template`,
    given the issue, its pharmacy and LPC, the correspondence, the tracking address and links, plus
    `context`), as the next message of the issue's email `thread`."""
    text, html = outbound.render_bodies(
        template,
        {
            "issue": issue,
            "pharmacy": issue.pharmacy,
            "lpc": issue.pharmacy.lpc,
            **context,
            "correspondence": correspondence_context(issue),
            "tracking_address": outbound.tracking_address(issue),
            "site_url": settings.SITE_URL,
            "issue_url": outbound.issue_url(issue),
        },
    )
    return outbound.queue_outbound_email(
        purpose=purpose,
        issue=issue,
        event=event,
        to=to,
        cc=cc,
        subject=outbound.subject_for(issue, subject),
        body_text=text,
        body_html=html,
        in_reply_to=thread[-1] if thread else "",
        references=thread,
    )


def queue_lpc_forward(
    issue: Issue, *, event: IssueEvent, user: User, note: str, recipients: list[str], thread: list[str]
) -> OutboundEmail:
    """The owner copies the LPC in: the RA thread goes to the LPC's addresses, the owner in copy."""
    return queue_forward(
        issue,
        event=event,
        purpose=MailPurpose.LPC_CC,
        template="issue_lpc_cc",
        context={"owner": user, "note": note},
        to=recipients,
        cc=[user.email],
        subject=f"{issue.pharmacy.name} ({issue.pharmacy.ods_code}) asks the LPC for help: {issue.summary}",
        thread=thread,
    )
