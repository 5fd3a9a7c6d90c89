"""Inbound mail on issues: which issue an email belongs to, and what it does there (DESIGN.md, "Email").

The mail layer stores each email that reaches an inbound webhook (smartcard_route.mail: the post
first, then the email, parsed, sanitised and stored once) and sends `inbound_email_received`;
`on_inbound_email_received` (connected in IssuesConfig.ready) routes it (`inbound_email_route`):

1. finds its issues (`inbound_email_match`): the plus-token of the tracking address in any
   recipient (every issue whose address it reached); else In-Reply-To/References against the
   Message-IDs of the issue's outbound mail and of earlier inbound mail; else an issue reference
   in the subject. A match by headers or subject also needs a sender known to that issue (its
   people, its RA, its LPC or CPE IT), so a forged In-Reply-To from a stranger never lands on
   another pharmacy's issue;
2. records it on each (`inbound_email_record`): an InboundEmailMatch with its EMAIL_IN event, a
   note to the reporter (outbox, sent after commit); the RA's reply stops the RA window
   (issues.services); the pharmacy's own email to the RA, copied to the tracking address, is
   recorded as the request sent (contact_ra with send_via="own_mail"). Auto-replies and loops are
   recorded but change nothing else. An email posted again to another issue's address lands there
   too; on an issue it is already on, nothing happens.

Mail that matches no issue goes to CPE IT's queue (UnmatchedEmail), with the reason noted on the
email; they attach it by reference once they have seen the issue it joins
(`inbound_email_attach_preview`, then `inbound_email_attach`), and may undo that
(`inbound_email_detach`: the email goes back to the queue). Nothing received is ever dropped.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, QuerySet
from django.http import Http404
from django.utils import timezone

from directory.models import User
from issues import route, services
from issues.correspondence import outbound
from issues.events import record_event
from issues.exceptions import IssueActionForbidden, IssueServiceError, TransitionNotAllowedNow
from issues.models import (
    EventKind,
    InboundEmailMatch,
    Issue,
    IssueEvent,
    IssueOutboundEmail,
    MailPurpose,
    UnmatchedEmail,
    format_reference,
    parse_number,
    parse_reference,
)
from issues.selectors import issues_visible_to
from smartcard_route.mail import services as mail
from smartcard_route.mail.models import InboundAttachment, InboundEmail, InboundPost

logger = logging.getLogger(__name__)

Sender = InboundEmailMatch.Sender
MatchedBy = InboundEmailMatch.MatchedBy

# Issue references anywhere in a subject: "[SC-000123]", "Re: SC-123 ...".
REFERENCE_IN_SUBJECT = re.compile(r"\bSC-([0-9]{1,12})\b", re.IGNORECASE)


# Routing what the mail layer stored ------------------------------------------------------------


def on_inbound_email_received(
    sender: Any, *, email: InboundEmail, created: bool, new_recipients: list[str], **kwargs: Any
) -> None:
    """Receiver of smartcard_route.mail.signals.inbound_email_received."""
    inbound_email_route(email=email, first_delivery=created, recipients=new_recipients)


def inbound_email_route(*, email: InboundEmail, first_delivery: bool, recipients: list[str]) -> list[InboundEmailMatch]:
    """Record a stored email on every issue it matches, or leave it in CPE IT's queue.

    1. Match it (`inbound_email_match`): by the tracking addresses among `recipients`; the first
       time it arrives (`first_delivery`), by its thread or subject too.
    2. Record it on each issue matched (`inbound_email_record`, once per issue).
    3. An email on no issue goes to the unmatched queue, with the reason in its notes. An error
       while matching or recording leaves it there too, with the error, for CPE IT.
    """
    try:
        matches, reason = inbound_email_match(email=email, recipients=recipients, first_delivery=first_delivery)
        recorded = [
            match
            for found in matches
            if (match := inbound_email_record(email=email, issue=found.issue, matched_by=found.matched_by))
        ]
    except Exception as error:
        logger.exception("inbound mail %s stored but could not be attached to an issue", email.pk)
        matches, recorded = [], []
        reason = f"Could not be attached automatically ({type(error).__name__}); left for CPE IT."
    if not matches and not email.matches.exists():
        UnmatchedEmail.objects.get_or_create(email=email, defaults={"created_at": email.received_at})
        if reason:
            mail.inbound_email_note(email=email, note=reason)
        logger.info("inbound mail %s unmatched", email.pk)
    return recorded


# Matching -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    issue: Issue
    matched_by: str


def token_from_address(address: str) -> str | None:
    """The tracking token of "<INBOUND_LOCAL_PART>+<token>@<INBOUND_DOMAIN>", else None."""
    local, _, domain = address.strip().lower().rpartition("@")
    base, plus, token = local.partition("+")
    if not plus or not token:
        return None
    if domain != settings.INBOUND_DOMAIN.lower() or base != settings.INBOUND_LOCAL_PART.lower():
        return None
    return token


def _shared_domains() -> set[str]:
    return {domain.strip().lower() for domain in settings.INBOUND_SHARED_MAIL_DOMAINS}


def is_shared_mail_domain(domain: str) -> bool:
    """A mail domain many organisations share (nhs.net, gmail.com...; a setting): it says nothing
    about who the sender works for."""
    return domain.strip().lower() in _shared_domains()


def sender_role(issue: Issue, address: str) -> str:
    """Who the sender is to this issue (InboundEmailMatch.Sender). The RA is recognised by its address, or
    by its mail domain unless that domain is shared by many organisations (nhs.net, gmail.com...)."""
    address = address.strip().lower()
    if "@" not in address:
        return Sender.UNKNOWN
    domain = address.rpartition("@")[2]
    pharmacy = issue.pharmacy
    ra = pharmacy.ra
    if ra is not None and ra.email and address == ra.email.lower():
        return Sender.RA
    if issue.reporter.email.lower() == address:
        return Sender.REPORTER
    if address in {pharmacy.email.lower(), pharmacy.owner.email.lower()} - {""}:
        return Sender.PHARMACY
    user = _user_for(address)
    if user is not None and (
        pharmacy.staff.filter(pk=user.pk).exists() or pharmacy.owner.members.filter(pk=user.pk).exists()
    ):
        return Sender.PHARMACY
    if ra is not None and ra.email_domain and domain == ra.email_domain and domain not in _shared_domains():
        return Sender.RA
    lpc = pharmacy.lpc
    if lpc is not None and (
        (lpc.email and address == lpc.email.lower()) or (user is not None and lpc.officers.filter(pk=user.pk).exists())
    ):
        return Sender.LPC
    if address == settings.CPE_IT_EMAIL.lower() or (user is not None and user.is_cpe_it):
        return Sender.CPE_IT
    return Sender.UNKNOWN


def _user_for(address: str) -> User | None:
    return User.objects.filter(email__iexact=address, is_active=True).first()


def inbound_email_match(
    *, email: InboundEmail, recipients: list[str] | None = None, first_delivery: bool = True
) -> tuple[list[Match], str]:
    """The issues this email belongs to and how each was found; or none and the reason why not.

    Every issue whose tracking address is among `recipients` (default: all the email's); failing
    those, the first time it arrives, the issue of the thread it replies to or the reference in
    its subject, from a sender known to that issue.
    """
    tokens = [
        token
        for address in (email.recipients if recipients is None else recipients)
        if (token := token_from_address(address))
    ]
    if tokens:
        issues = Issue.objects.select_related("pharmacy").filter(tracking_token__in=tokens).order_by("pk")
        found = [Match(issue, MatchedBy.TOKEN) for issue in issues]
        if found:
            return found, ""
    if not first_delivery:
        return [], ""
    reasons: list[str] = []
    # A sender the provider's checks reject may not be who the From line says: by its thread or
    # subject alone it lands on no issue (its tracking address, above, still takes it there).
    failure = email.authentication_failure

    thread_ids = [*email.in_reply_to.split(), *reversed(email.references.split())]
    if thread_ids:
        candidates: list[int] = []
        for issue_id in [
            *IssueOutboundEmail.objects.filter(email__message_id__in=thread_ids).values_list("issue_id", flat=True),
            *InboundEmailMatch.objects.filter(email__message_id__in=thread_ids, detached_at__isnull=True)
            .exclude(email=email)
            .values_list("issue_id", flat=True),
        ]:
            if issue_id not in candidates:
                candidates.append(issue_id)
        for issue in Issue.objects.select_related("pharmacy", "reporter").filter(pk__in=candidates):
            if failure:
                reasons.append(
                    f"It replies to an email on {issue.reference}, but the email provider reports that it failed "
                    f"its sender checks ({failure}), so its sender is not taken to be known to that issue."
                )
            elif sender_role(issue, email.from_email) != Sender.UNKNOWN:
                return [Match(issue, MatchedBy.THREAD)], ""
            reasons.append(
                f"It replies to an email on {issue.reference}, but {email.from_email or 'the sender'} is not "
                "known to that issue."
            )

    for number in dict.fromkeys(int(found) for found in REFERENCE_IN_SUBJECT.findall(email.subject)):
        issue = Issue.objects.select_related("pharmacy", "reporter").filter(pk=number).first()
        if issue is None:
            reasons.append(f"The subject names {format_reference(number)}, which does not exist.")
        elif failure:
            reasons.append(
                f"The subject names {issue.reference}, but the email provider reports that it failed its sender "
                f"checks ({failure}), so its sender is not taken to be known to that issue."
            )
        elif sender_role(issue, email.from_email) != Sender.UNKNOWN:
            return [Match(issue, MatchedBy.REFERENCE)], ""
        else:
            reasons.append(
                f"The subject names {issue.reference}, but {email.from_email or 'the sender'} is not known "
                "to that issue."
            )
    if not reasons:
        reasons.append("No tracking address, earlier email or issue reference identifies its issue.")
    return [], " ".join(reasons)


# Recording on an issue ------------------------------------------------------------------------


class _AlreadyRecorded(Exception):
    pass


def inbound_email_record(
    *, email: InboundEmail, issue: Issue, matched_by: str, attached_by: User | None = None
) -> InboundEmailMatch | None:
    """Record a stored email on an issue, once, in one transaction; None if it is already there.

    1. Lock the issue. CPE IT attaching it (`attached_by`) claims it from the unmatched queue:
       if someone else attached it first, change nothing (TransitionNotAllowedNow).
    2. Write the EMAIL_IN event (its data carries the Message-ID for threading) and the match;
       the (email, issue) pair being unique, a second delivery to the same issue changes nothing.
    3. Unless it is an auto-reply or a loop: the RA's email counts as its reply and stops the RA
       window where the route allows a reply (the RA was asked; otherwise it is kept and shown, and
       does not count: issues.services.issue_record_ra_email); the pharmacy's own email to the RA,
       copied to the tracking address, is recorded as the request sent (contact_ra, send_via="own_mail",
       as the sending user) when the issue has not reached the RA yet; the reporter is told
       (outbox, after commit) unless they sent it.
    A step that the issue's state refuses is noted on the email; the email stays recorded.
    """
    try:
        with transaction.atomic():
            locked = Issue.objects.select_for_update().select_related("pharmacy", "reporter").get(pk=issue.pk)
            claimed = UnmatchedEmail.objects.filter(email=email).delete()[0]
            if attached_by is not None and not claimed:
                raise TransitionNotAllowedNow("This email is already attached to an issue.")
            role = sender_role(locked, email.from_email)
            sender_user = _user_for(email.from_email) if role != Sender.RA else None
            event = record_event(
                locked,
                kind=EventKind.EMAIL_IN,
                actor=sender_user if role != Sender.UNKNOWN else None,
                text=_event_text(email, role, attached_by),
                data={
                    "inbound_email_id": email.pk,
                    "message_id": email.message_id,
                    "from": email.from_email,
                    "from_name": email.from_name,
                    "subject": email.subject,
                    "sender_role": role,
                    "matched_by": matched_by,
                    "automatic": email.automatic_reason,
                    "authentication_failure": email.authentication_failure,
                    "spf": email.spf,
                    "dkim": email.dkim,
                    "dmarc": email.dmarc,
                    "attached_by": attached_by.pk if attached_by else None,
                },
            )
            try:
                with transaction.atomic():
                    match = InboundEmailMatch.objects.create(
                        email=email,
                        issue=locked,
                        event=event,
                        matched_by=matched_by,
                        sender_role=role,
                        attached_by=attached_by,
                        created_at=event.created_at,
                    )
            except IntegrityError:
                raise _AlreadyRecorded from None
            notes: list[str] = []
            if email.automatic_reason:
                notes.append(f"Recorded as an automatic email ({email.automatic_reason}): the deadline is unchanged.")
            else:
                failure = email.authentication_failure
                if role == Sender.RA:
                    notes += services.issue_record_ra_email(
                        issue=locked, event=event, now=event.created_at, authentication_failure=failure
                    )
                elif role in (Sender.PHARMACY, Sender.REPORTER) and failure:
                    notes.append(
                        f"The email provider reports that it failed its sender checks ({failure}): not recorded as "
                        "the request to the RA, and no clock changed."
                    )
                elif role in (Sender.PHARMACY, Sender.REPORTER):
                    notes += _record_own_mail_request(locked, email, sender_user)
                if role != Sender.REPORTER:
                    _notify_reporter(locked, email, event, role)
            for note in notes:
                mail.inbound_email_note(email=email, note=f"{locked.reference}: {note}")
    except _AlreadyRecorded:
        logger.info("inbound mail %s already on %s", email.pk, issue.reference)
        return None
    logger.info("inbound mail %s recorded on %s (%s, sender %s)", email.pk, locked.reference, matched_by, role)
    return match


def sender_label(role: str) -> str:
    """ "the pharmacy's RA", "CPE IT team"...: the label, to follow "from"."""
    label = str(Sender(role).label)
    return label if label.startswith("CPE") else label[:1].lower() + label[1:]


def _event_text(email: InboundEmail, role: str, attached_by: User | None) -> str:
    who = f"{email.from_name} <{email.from_email}>" if email.from_name else email.from_email or "an unknown sender"
    text = f"Email from {who} ({sender_label(role)}): {email.subject or '(no subject)'}"
    if email.automatic_reason:
        text += " [automatic reply]"
    if email.authentication_failure:
        text += f" [failed the provider's sender checks: {email.authentication_failure}]"
    if attached_by is not None:
        text += f". Attached by {attached_by.full_name}"
    return text


def _record_own_mail_request(issue: Issue, email: InboundEmail, sender_user: User | None) -> list[str]:
    """The pharmacy's own email to the RA, copied to us: the request is sent (starts the RA window)."""
    ra = issue.pharmacy.ra
    if ra is None or not ra.email or ra.email.lower() not in {*email.to, *email.cc, *email.recipients}:
        return []
    if not route.CONTACT_RA.possible_from(issue):
        return []
    if sender_user is None:
        return ["Sent to the RA from a pharmacy address that is not a user's: record the request on the issue page."]
    question = (email.body_text or email.subject).strip()[: services.MAX_TEXT] or email.subject[: services.MAX_TEXT]
    try:
        with transaction.atomic():
            services.issue_contact_ra(user=sender_user, issue=issue, send_via="own_mail", question=question)
    except (IssueServiceError, ValidationError) as error:
        message = "; ".join(error.messages) if isinstance(error, ValidationError) else error.message
        logger.info("inbound mail %s: own-mail request not recorded on %s: %s", email.pk, issue.reference, message)
        return [f"Not recorded as the request to the RA: {message}"]
    return ["Recorded as the request sent to the RA from the pharmacy's own mailbox."]


def _notify_reporter(issue: Issue, email: InboundEmail, event: IssueEvent, role: str) -> None:
    reporter = issue.reporter
    if not reporter.is_active or not reporter.email:
        return
    text, html = outbound.render_bodies(
        "issue_inbound_email",
        {
            "issue": issue,
            "email": email,
            "sender": sender_label(role),
            "issue_url": outbound.issue_url(issue),
            "site_url": settings.SITE_URL,
        },
    )
    outbound.queue_outbound_email(
        purpose=MailPurpose.NOTIFICATION,
        issue=issue,
        event=event,
        to=[reporter.email],
        subject=outbound.subject_for(issue, f"New email from {sender_label(role)}: {email.subject}"[:250]),
        body_text=text,
        body_html=html,
    )


# CPE IT: the unmatched list -------------------------------------------------------------------


def _require_cpe_it(user: User, doing: str) -> None:
    if not (user.is_authenticated and user.is_active and user.is_cpe_it):
        raise IssueActionForbidden(f"Only the CPE IT team can {doing}.")


def inbound_email_attach_preview(*, user: User, email: InboundEmail, reference: str) -> Issue:
    """The issue `inbound_email_attach` would attach this email to, checked exactly as it checks
    it, saving nothing: the confirmation page shows it before anything is recorded.

    CPE IT only (IssueActionForbidden); the reference "SC-000123" (any case, brackets or not) or
    its number, of an existing issue (ValidationError on "reference"); the email still unmatched
    (TransitionNotAllowedNow)."""
    _require_cpe_it(user, "attach unmatched email")
    text = (reference or "").strip().strip("[]").strip()
    number = parse_number(text) if text[:1].isdigit() else parse_reference(text)
    if number is None:
        raise ValidationError({"reference": ["Enter an issue reference, like SC-000123."]})
    issue = (
        issues_visible_to(user)
        .select_related("pharmacy", "pharmacy__ra", "pharmacy__lpc", "reporter")
        .filter(pk=number)
        .first()
    )
    if issue is None:
        raise ValidationError({"reference": [f"There is no issue {format_reference(number)}."]})
    if not UnmatchedEmail.objects.filter(email=email).exists():
        raise TransitionNotAllowedNow("This email is already attached to an issue.")
    return issue


def inbound_email_attach(*, user: User, email: InboundEmail, reference: str) -> InboundEmailMatch:
    """CPE IT attaches an unmatched email to the issue with this reference, once they have
    confirmed it (the checks of `inbound_email_attach_preview`); the email is then recorded
    exactly as if it had matched (events, RA window, notification). The UnmatchedEmail row is the
    claim: of two people attaching it at once, the second changes nothing and is told so."""
    issue = inbound_email_attach_preview(user=user, email=email, reference=reference)
    match = inbound_email_record(email=email, issue=issue, matched_by=MatchedBy.MANUAL, attached_by=user)
    if match is None:
        raise TransitionNotAllowedNow("This email is already attached to that issue.")
    return match


NOT_ATTACHED = "This email is not attached to an issue by CPE IT, or it was taken off already."
DETACHED_CLOCK_NOTE = (
    "It had counted as the RA's reply and stopped the RA reply window; taking it off does not start that "
    "window again, so if the RA has not really replied, chase the RA."
)


def inbound_email_detach(*, user: User, email: InboundEmail) -> IssueEvent:
    """Undo CPE IT's attachment of an email: it goes back to the unmatched queue.

    1. CPE IT only (IssueActionForbidden).
    2. In one transaction, claim the attachment with a conditional UPDATE (the email's attachment
       by CPE IT still in place: detached_at set, with who); none, or someone else undid it first:
       TransitionNotAllowedNow.
    3. Write the EMAIL_DETACHED event on the issue; the EMAIL_IN event stays (events are never
       deleted) and the timeline shows the email as taken off. If the email had counted as the
       RA's reply, the clock it stopped is not started again: the event says so.
    4. Put the email back in the unmatched queue (its UnmatchedEmail row).
    Whatever else attaching it did (the reporter's notification, sent) stays done.
    """
    _require_cpe_it(user, "undo the attachment of an email")
    now = timezone.now()
    with transaction.atomic():
        match = (
            InboundEmailMatch.objects.select_related("issue", "event")
            .filter(email=email, matched_by=MatchedBy.MANUAL, detached_at__isnull=True)
            .order_by("-created_at", "-pk")
            .first()
        )
        claimed = match is not None and bool(
            InboundEmailMatch.objects.filter(pk=match.pk, detached_at__isnull=True).update(
                detached_at=now, detached_by=user
            )
        )
        if match is None or not claimed:
            raise TransitionNotAllowedNow(NOT_ATTACHED)
        counted = bool((match.event.data or {}).get("ra_reply"))
        who = email.from_email or "an unknown sender"
        text = (
            f"The email from {who} (“{email.subject or '(no subject)'}”) was taken off this issue by "
            f"{user.full_name}: it is back in CPE IT's unmatched mail."
        )
        event = record_event(
            match.issue,
            kind=EventKind.EMAIL_DETACHED,
            actor=user,
            text=f"{text} {DETACHED_CLOCK_NOTE}" if counted else text,
            data={
                "inbound_email_id": email.pk,
                "match_id": match.pk,
                "email_in_event_id": match.event_id,
                "had_counted_as_ra_reply": counted,
            },
            now=now,
        )
        UnmatchedEmail.objects.get_or_create(email=email, defaults={"created_at": email.received_at})
    logger.info("inbound mail %s taken off %s", email.pk, match.issue.reference)
    return event


# Reads (scoped) -------------------------------------------------------------------------------


def inbound_emails_visible_to(user: User | Any) -> QuerySet[InboundEmail]:
    """CPE IT see every inbound email (the unmatched ones are theirs to sort out); others see the
    emails of the issues they may see (issues.selectors.issues_visible_to)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return InboundEmail.objects.none()
    if user.is_cpe_it:
        return InboundEmail.objects.all()
    seen = InboundEmailMatch.objects.filter(issue__in=issues_visible_to(user)).values("email_id")
    return InboundEmail.objects.filter(pk__in=seen)


def unmatched_emails(*, user: User | Any) -> QuerySet[InboundEmail]:
    """The unmatched list, newest first, with attachment counts (CPE IT only; empty for others)."""
    if not getattr(user, "is_cpe_it", False):
        return InboundEmail.objects.none()
    return (
        inbound_emails_visible_to(user)
        .filter(unmatched__isnull=False)
        .annotate(attachment_count=Count("attachments"))
        .order_by("-unmatched__created_at", "-pk")
    )


def recent_manual_attachments(*, user: User | Any, limit: int = 10) -> QuerySet[InboundEmailMatch]:
    """CPE IT's latest attachments of unmatched email still in place, newest first (CPE IT only):
    the unmatched list offers to undo them."""
    if not (getattr(user, "is_authenticated", False) and user.is_active and user.is_cpe_it):
        return InboundEmailMatch.objects.none()
    return (
        InboundEmailMatch.objects.filter(matched_by=MatchedBy.MANUAL, detached_at__isnull=True)
        .select_related("email", "issue", "attached_by")
        .order_by("-created_at", "-pk")[:limit]
    )


def unreadable_inbound_posts(*, user: User | Any) -> QuerySet[InboundPost]:
    """What a provider posted that could not be read, newest first (CPE IT only): kept with the
    reason (smartcard_route.mail), as the unmatched mail is."""
    if not (getattr(user, "is_authenticated", False) and user.is_active and user.is_cpe_it):
        return InboundPost.objects.none()
    return InboundPost.objects.filter(status=InboundPost.Status.FAILED).defer("body").order_by("-received_at", "-pk")


def inbound_attachment_visible(*, user: User | Any, pk: int) -> InboundAttachment:
    """An attachment whose email the user may see, else Http404."""
    emails_seen = inbound_emails_visible_to(user)
    attachment = InboundAttachment.objects.select_related("email").filter(pk=pk, email__in=emails_seen).first()
    if attachment is None:
        raise Http404("No such attachment.")
    return attachment
