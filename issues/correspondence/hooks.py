"""How the issues plug into the mail layer (smartcard_route.mail), which knows no issue: its news
about an issue's mail becomes timeline events, inbound mail is matched to its issues, and reminders
are rendered when they are sent; the sweep's lag is on /metrics. `connect()` runs once, from IssuesConfig.ready()."""

from __future__ import annotations

from issues.correspondence.inbound import on_inbound_email_received
from issues.correspondence.outbound import on_outbound_email_failed, on_outbound_email_sent
from issues.correspondence.tracking import on_delivery_recorded
from issues.models import MailPurpose
from issues.nudges.mail import nudge_email_context
from issues.nudges.metrics import nudge_metrics
from smartcard_route import metrics
from smartcard_route.mail import signals
from smartcard_route.mail.rendering import register_template_context


def connect() -> None:
    signals.outbound_email_sent.connect(on_outbound_email_sent, dispatch_uid="issues.correspondence.outbound.sent")
    signals.outbound_email_failed.connect(
        on_outbound_email_failed, dispatch_uid="issues.correspondence.outbound.failed"
    )
    signals.delivery_recorded.connect(on_delivery_recorded, dispatch_uid="issues.correspondence.tracking")
    signals.inbound_email_received.connect(on_inbound_email_received, dispatch_uid="issues.correspondence.inbound")
    register_template_context(MailPurpose.NUDGE, nudge_email_context)
    metrics.register_collector("nudges", nudge_metrics)
