"""django-anymail's inbound and tracking webhook views, made safe, for the ESPs we support and test
(`ESPS`: Amazon SES and Postmark); settings.MAIL_WEBHOOK_ESPS says which of them are mounted.
Inbound posts are stored first and read by the Celery worker (RawFirstInboundMixin).

anymail checks the shared secret (settings.ANYMAIL["WEBHOOK_SECRET"], HTTP basic auth) and parses
the ESP's payload. On top of anymail, these views:

- refuse every post (403) while no secret is configured, where anymail would accept anyone's, and
  a wrong or missing secret with 401 (and a Basic challenge) before anything is read or stored;
- inbound: store the post first, hand its reading to the worker, and answer 200 once stored,
  malformed or not (RawFirstInboundMixin);
- tracking: answer 400 (and log why) when the payload is malformed, where anymail would let a
  parsing error become a 500 that the ESP retries forever; an error while handling a well-formed
  tracking payload is still a 500, so the ESP tries again later;
- accept, from an authenticated ESP, posts larger than Django's DATA_UPLOAD_MAX_MEMORY_SIZE (an
  email with big attachments), up to settings.INBOUND_MAX_WEBHOOK_BYTES (413 beyond);
- hand each tracking event to `services.outbound_delivery_record` (no global signal).

They are public (no login: anymail marks them login_not_required and csrf_exempt).
"""

from __future__ import annotations

import logging
from io import BytesIO
from typing import Any

from anymail.exceptions import AnymailError, AnymailWebhookValidationFailure
from anymail.utils import get_request_basic_auth
from anymail.webhooks.amazon_ses import AmazonSESInboundWebhookView, AmazonSESTrackingWebhookView
from anymail.webhooks.base import AnymailBasicAuthMixin
from anymail.webhooks.postmark import PostmarkInboundWebhookView, PostmarkTrackingWebhookView
from django.conf import settings
from django.core.exceptions import BadRequest, ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.utils.crypto import constant_time_compare

from smartcard_route.mail import services

logger = logging.getLogger(__name__)

# What a malformed payload makes anymail's parsers raise (json, KeyError on a missing field, ...).
PAYLOAD_ERRORS: tuple[type[BaseException], ...] = (
    AnymailError,
    ImproperlyConfigured,  # anymail's "wrong webhook for this payload" (AnymailConfigurationError)
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    LookupError,
)


class SafeWebhookMixin:
    """Put before an anymail webhook view class: bounded body size, 400 on malformed payloads."""

    basic_auth: list[str]
    esp_name: str

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self._refusal(request) or super().post(request, *args, **kwargs)  # type: ignore[misc]

    def _refusal(self, request: HttpRequest) -> HttpResponse | None:
        """403 while no secret is set; 400 or 413 for a body of a bad or too large size."""
        if not self.basic_auth:
            # anymail would accept anyone's posts (with a warning): we refuse them instead.
            logger.error("%s webhook refused: ANYMAIL_WEBHOOK_SECRET is not set", self.esp_name)
            return HttpResponse("Webhook secret not configured.", status=403, content_type="text/plain")
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return HttpResponse("Bad Content-Length.", status=400, content_type="text/plain")
        limit = int(settings.INBOUND_MAX_WEBHOOK_BYTES)
        if length > limit:
            logger.warning("%s webhook: %s bytes refused (limit %s)", self.esp_name, length, limit)
            return HttpResponse("Payload too large.", status=413, content_type="text/plain")
        if not self._authenticated(request):
            # A wrong or missing secret: refused, and nothing stored. 401 with a Basic challenge
            # (Amazon SNS posts without credentials first and retries with them on this answer).
            logger.warning("%s webhook: wrong or missing secret", self.esp_name)
            response = HttpResponse("Wrong or missing webhook secret.", status=401, content_type="text/plain")
            response["WWW-Authenticate"] = 'Basic realm="Anymail WEBHOOK_SECRET"'
            return response
        if not _read_body(request, limit):
            logger.warning("%s webhook: body over %s bytes refused", self.esp_name, limit)
            return HttpResponse("Payload too large.", status=413, content_type="text/plain")
        return None

    def _authenticated(self, request: HttpRequest) -> bool:
        """The basic-auth secret is right (anymail checks it again); only then read a large body."""
        given = get_request_basic_auth(request)
        return given is not None and any(constant_time_compare(given, secret) for secret in self.basic_auth)

    def run_validators(self, request: HttpRequest) -> None:
        self._bad_payload_is_400(super().run_validators, request)  # type: ignore[misc]

    def parse_events(self, request: HttpRequest) -> list[Any]:
        return self._bad_payload_is_400(super().parse_events, request)  # type: ignore[misc, no-any-return]

    def _bad_payload_is_400(self, step: Any, request: HttpRequest) -> Any:
        try:
            return step(request)
        except AnymailWebhookValidationFailure:
            raise  # anymail's own 400 (wrong secret, mismatched SNS headers), logged by Django
        except PAYLOAD_ERRORS as error:
            # The error's text may quote the payload (addresses, headers): its kind only.
            logger.warning("%s webhook: malformed payload (%s)", self.esp_name, type(error).__name__)
            raise BadRequest(f"Malformed {self.esp_name} webhook payload.") from error


def _read_body(request: HttpRequest, limit: int) -> bool:
    """Read the body into memory up to `limit` bytes, past DATA_UPLOAD_MAX_MEMORY_SIZE, for this
    view only (request.body then returns it without Django's smaller check). False when too big."""
    if hasattr(request, "_body"):
        return len(request.body) <= limit
    data = request.read(limit + 1)
    if len(data) > limit:
        return False
    request._body = data  # type: ignore[attr-defined]
    request._stream = BytesIO(data)  # type: ignore[attr-defined]
    return True


class TrackingMixin(SafeWebhookMixin):
    """Each delivery event goes to the tracking service, in the request (an error is a 500, and the
    ESP tries again later: the service is idempotent)."""

    def parse_events(self, request: HttpRequest) -> list[Any]:
        events = super().parse_events(request)
        for event in events:
            services.outbound_delivery_record(
                esp_message_id=str(event.message_id or ""),
                event_type=str(event.event_type or ""),
                recipient=str(event.recipient or ""),
                description=str(event.description or ""),
                mta_response=str(event.mta_response or ""),
                esp_name=self.esp_name,
            )
        return []  # handled: nothing for anymail's tracking signal


class RawFirstInboundMixin(SafeWebhookMixin):
    """An inbound webhook that stores what the provider posted before anything else can fail.

    1. Refuse (401 wrong or missing secret, 403 no secret configured, 413 too large) as
       SafeWebhookMixin does: nothing is stored.
    2. Store the post in one INSERT (`services.inbound_post_store`).
    3. Enqueue its read (`services.inbound_post_enqueue_read`: the worker's task reads it with
       `read`, anymail's other checks and parser, through `webhooks.readers()`, and stores its
       emails) and answer 200, whether the broker took the task or not: a post whose task was
       not enqueued stays "received" and the beat sweep reads it a few minutes later. Once stored,
       the provider has nothing to retry; a malformed payload is kept "failed" with the reason, on
       CPE IT's list, and an error of ours alike (read again once fixed).

    With settings.INBOUND_READ_IN_REQUEST=True, step 3 reads the post in the request instead
    (`services.inbound_post_process`, about 40 ms of CPU a post), as before the worker did it.
    """

    esp: str  # our name for the provider, as in ESPS and the URL

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        refused = self._refusal(request)
        if refused is not None:
            return refused
        # Stored, and committed (no transaction here): whatever happens next, the provider has
        # nothing to send again (200). A post that cannot be read stays "failed" with the reason.
        stored = services.inbound_post_store(esp=self.esp, request=request)
        if settings.INBOUND_READ_IN_REQUEST:
            services.inbound_post_process(post=stored, reader=self.read, request=request)
        else:
            services.inbound_post_enqueue_read(post=stored)
        return HttpResponse()

    def read(self, request: HttpRequest) -> list[tuple[str, Any, list[str], Any]]:
        """Each email of a stored post: anymail's checks (but the secret, checked when it came:
        it is never stored) and its parser. Raises services.Unreadable on a malformed payload."""
        try:
            self._bad_payload_is_400(self._run_checks_but_the_secret, request)
            events = self.parse_events(request)
        except (BadRequest, AnymailWebhookValidationFailure) as error:
            raise services.Unreadable(str(error.__cause__ or error)[:500]) from error
        return [
            (str(event.event_id or ""), event.message, self.envelope_recipients(event), event.esp_event)
            for event in events
        ]

    def _run_checks_but_the_secret(self, request: HttpRequest) -> None:
        for validator in self.validators:  # type: ignore[attr-defined]
            if validator is not AnymailBasicAuthMixin.validate_request:
                validator(self, request)

    def envelope_recipients(self, event: Any) -> list[str]:
        """The addresses the provider delivered the email to, beyond anymail's envelope_recipient."""
        return []


class AmazonSESInboundView(RawFirstInboundMixin, AmazonSESInboundWebhookView):
    esp = "amazon_ses"

    def envelope_recipients(self, event: Any) -> list[str]:
        # Every recipient the receipt rule matched (anymail keeps only the first).
        recipients = (event.esp_event or {}).get("receipt", {}).get("recipients") or []
        return [str(address) for address in recipients if isinstance(address, str)]


class AmazonSESTrackingView(TrackingMixin, AmazonSESTrackingWebhookView):
    pass


class PostmarkInboundView(RawFirstInboundMixin, PostmarkInboundWebhookView):
    esp = "postmark"


class PostmarkTrackingView(TrackingMixin, PostmarkTrackingWebhookView):
    pass


# The ESPs we support: name (as in settings.MAIL_WEBHOOK_ESPS and the URL) -> (inbound, tracking).
ESPS: dict[str, tuple[type[Any], type[Any]]] = {
    "amazon_ses": (AmazonSESInboundView, AmazonSESTrackingView),
    "postmark": (PostmarkInboundView, PostmarkTrackingView),
}


def readers() -> dict[str, services.Reader]:
    """Each provider's reader of stored inbound posts, for reading them after the request: the
    worker's task, the stale-post sweep, the admin's "read again"."""
    return {esp: inbound().read for esp, (inbound, _) in ESPS.items()}
