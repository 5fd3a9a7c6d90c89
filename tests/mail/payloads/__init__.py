"""Real-format ESP webhook payloads (the JSON files beside this module) and builders that fill them in.

- postmark_inbound.json: Postmark's inbound webhook JSON (FromFull, ToFull, Headers with the
  Return-Path first, TextBody/HtmlBody, Attachments with base64 Content).
- ses_inbound.json: an Amazon SNS "Notification" whose Message is an SES receipt notification
  ("notificationType": "Received") with an SNS action and the raw MIME in "content" (BASE64).
- postmark_{delivery,bounce,spam_complaint}.json, ses_{delivery,bounce,complaint}.json: tracking.

The posting helpers send them as the ESPs do: JSON for Postmark; for SNS a text/plain body with
the x-amz-sns-message-type / -message-id / -topic-arn headers; both with HTTP basic auth.
"""

from __future__ import annotations

import base64
import copy
import json
import uuid
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent

POSTMARK_INBOUND_URL = "/webhooks/anymail/postmark/inbound/"
POSTMARK_TRACKING_URL = "/webhooks/anymail/postmark/tracking/"
SES_INBOUND_URL = "/webhooks/anymail/amazon_ses/inbound/"
SES_TRACKING_URL = "/webhooks/anymail/amazon_ses/tracking/"
WEBHOOK_SECRET = "anymail:test-webhook-secret"


def load(name: str) -> dict[str, Any]:
    return json.loads((HERE / name).read_text())


@dataclass
class Mail:
    """One email as a person (or a robot) sent it."""

    from_email: str
    to: list[str]
    subject: str = "RE: Smartcard help"
    text: str = "Hello,\n\nWe have unlocked the card. Please try again.\n"
    html: str = ""
    from_name: str = ""
    cc: list[str] = field(default_factory=list)
    message_id: str = field(default_factory=lambda: make_msgid(domain="mail.sender.example"))
    in_reply_to: str = ""
    references: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    # (filename, content type, content)
    attachments: list[tuple[str, str, bytes]] = field(default_factory=list)
    envelope_sender: str | None = None  # Return-Path; None: the From address
    raw: bytes | None = None  # the exact MIME for SES (hostile mail the email package would not write)


def postmark_inbound(mail: Mail) -> dict[str, Any]:
    payload = load("postmark_inbound.json")
    payload["From"] = mail.from_email
    payload["FromName"] = mail.from_name
    payload["FromFull"] = {"Email": mail.from_email, "Name": mail.from_name, "MailboxHash": ""}
    payload["To"] = ", ".join(mail.to)
    payload["ToFull"] = [{"Email": address, "Name": "", "MailboxHash": _hash(address)} for address in mail.to]
    payload["Cc"] = ", ".join(mail.cc)
    payload["CcFull"] = [{"Email": address, "Name": "", "MailboxHash": _hash(address)} for address in mail.cc]
    payload["OriginalRecipient"] = (mail.to + mail.cc)[0]
    payload["MailboxHash"] = _hash(payload["OriginalRecipient"])
    payload["Subject"] = mail.subject
    payload["MessageID"] = str(uuid.uuid4())
    payload["TextBody"] = mail.text
    payload["HtmlBody"] = mail.html
    payload["StrippedTextReply"] = mail.text
    return_path = mail.from_email if mail.envelope_sender is None else mail.envelope_sender
    headers = [{"Name": "Return-Path", "Value": f"<{return_path}>"}]
    headers += [h for h in payload["Headers"][1:] if h["Name"] not in ("Message-ID", "In-Reply-To", "References")]
    headers.append({"Name": "Message-ID", "Value": mail.message_id})
    if mail.in_reply_to:
        headers.append({"Name": "In-Reply-To", "Value": mail.in_reply_to})
    if mail.references:
        headers.append({"Name": "References", "Value": mail.references})
    headers += [{"Name": name, "Value": value} for name, value in mail.headers.items()]
    payload["Headers"] = headers
    payload["Attachments"] = [
        {
            "Name": filename,
            "Content": base64.b64encode(content).decode("ascii"),
            "ContentType": content_type,
            "ContentLength": len(content),
        }
        for filename, content_type, content in mail.attachments
    ]
    return payload


def _hash(address: str) -> str:
    local = address.partition("@")[0]
    return local.partition("+")[2]


def raw_mime(mail: Mail) -> bytes:
    if mail.raw is not None:
        return mail.raw
    message = EmailMessage()
    message["Return-Path"] = f"<{mail.from_email if mail.envelope_sender is None else mail.envelope_sender}>"
    message["From"] = formataddr((mail.from_name, mail.from_email)) if mail.from_name else mail.from_email
    message["To"] = ", ".join(mail.to)
    if mail.cc:
        message["Cc"] = ", ".join(mail.cc)
    message["Subject"] = mail.subject
    message["Date"] = "Mon, 30 Nov 2026 10:15:00 +0000"
    message["Message-ID"] = mail.message_id
    if mail.in_reply_to:
        message["In-Reply-To"] = mail.in_reply_to
    if mail.references:
        message["References"] = mail.references
    for name, value in mail.headers.items():
        del message[name]
        message[name] = value
    message.set_content(mail.text)
    if mail.html:
        message.add_alternative(mail.html, subtype="html")
    for filename, content_type, content in mail.attachments:
        maintype, _, subtype = content_type.partition("/")
        message.add_attachment(content, maintype=maintype, subtype=subtype, filename=filename)
    return message.as_bytes()


def ses_inbound(mail: Mail) -> dict[str, Any]:
    envelope = load("ses_inbound.json")
    notification = json.loads(envelope["Message"])
    recipients = mail.to + mail.cc
    notification["mail"]["source"] = mail.from_email if mail.envelope_sender is None else mail.envelope_sender
    notification["mail"]["messageId"] = uuid.uuid4().hex
    notification["mail"]["destination"] = recipients
    notification["mail"]["headers"] = [
        {"name": "From", "value": mail.from_email},
        {"name": "To", "value": ", ".join(mail.to)},
        {"name": "Subject", "value": mail.subject},
        {"name": "Message-ID", "value": mail.message_id},
    ]
    common = notification["mail"]["commonHeaders"]
    common.update({"from": [mail.from_email], "to": mail.to, "subject": mail.subject, "messageId": mail.message_id})
    notification["receipt"]["recipients"] = recipients
    notification["content"] = base64.b64encode(raw_mime(mail)).decode("ascii")
    envelope["Message"] = json.dumps(notification, separators=(",", ":"))
    envelope["MessageId"] = str(uuid.uuid4())
    return envelope


def postmark_tracking(kind: str, *, esp_message_id: str, recipient: str) -> dict[str, Any]:
    """kind: "delivery", "bounce" or "spam_complaint"."""
    payload = load(f"postmark_{kind}.json")
    payload["MessageID"] = esp_message_id
    payload["Recipient" if kind == "delivery" else "Email"] = recipient
    return payload


def ses_tracking(kind: str, *, esp_message_id: str, recipient: str) -> dict[str, Any]:
    """kind: "delivery", "bounce" or "complaint"."""
    envelope = load(f"ses_{kind}.json")
    notification = json.loads(envelope["Message"])
    notification["mail"]["messageId"] = esp_message_id
    notification["mail"]["destination"] = [recipient]
    if kind == "bounce":
        notification["bounce"]["bouncedRecipients"][0]["emailAddress"] = recipient
    elif kind == "complaint":
        notification["complaint"]["complainedRecipients"][0]["emailAddress"] = recipient
    else:
        notification["delivery"]["recipients"] = [recipient]
    envelope["Message"] = json.dumps(notification, separators=(",", ":"))
    envelope["MessageId"] = str(uuid.uuid4())
    return envelope


def basic_auth(secret: str = WEBHOOK_SECRET) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(secret.encode()).decode("ascii")}


def post_postmark(client: Any, url: str, payload: Any, *, secret: str | None = WEBHOOK_SECRET) -> Any:
    body = payload if isinstance(payload, (str, bytes)) else json.dumps(payload)
    extra = basic_auth(secret) if secret is not None else {}
    return client.post(url, data=body, content_type="application/json", **extra)


def post_sns(client: Any, url: str, envelope: Any, *, secret: str | None = WEBHOOK_SECRET, **headers: str) -> Any:
    """As Amazon SNS posts: a JSON body sent as text/plain, with its type and id in headers."""
    require_boto3()
    if isinstance(envelope, dict):
        body = json.dumps(envelope)
        meta = {
            "HTTP_X_AMZ_SNS_MESSAGE_TYPE": str(envelope.get("Type", "")),
            "HTTP_X_AMZ_SNS_MESSAGE_ID": str(envelope.get("MessageId", "")),
            "HTTP_X_AMZ_SNS_TOPIC_ARN": str(envelope.get("TopicArn", "")),
        }
    else:
        body = envelope
        meta = {}
    meta.update(headers)
    if secret is not None:
        meta.update(basic_auth(secret))
    return client.post(url, data=body, content_type="text/plain; charset=UTF-8", **meta)


def require_boto3() -> None:
    """anymail's Amazon SES webhook views need boto3 (django-anymail's amazon-ses extra)."""
    try:
        import boto3  # noqa: F401
    except ImportError:
        import pytest

        pytest.fail("boto3 is not installed: anymail's Amazon SES webhooks need it (requirements.lock).")


def clone(payload: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(payload)
