"""What a bounce means for the directory: an RA whose address bounces is flagged for checking and the
directory manager is told once; someone else's bounce flags nothing."""

from __future__ import annotations

from typing import Any

import pytest

from issues.models import MailPurpose
from smartcard_route.mail.models import OutboundEmail
from tests.issues.factories import UserFactory
from tests.issues.inbound_fixtures import *  # noqa: F403
from tests.issues.inbound_fixtures import Track, delivery_events

pytestmark = pytest.mark.django_db


def test_it_flags_an_ra_whose_address_bounces_and_tells_the_directory_manager_once(
    track: Track, ra_request: OutboundEmail, ra: Any
) -> None:
    manager = UserFactory(email="manager@cpe.example", is_directory_manager=True)

    assert track("bounced").status_code == 200
    assert track("bounced").status_code == 200  # the ESP retried

    ra_request.refresh_from_db()
    ra.refresh_from_db()
    assert ra_request.status == OutboundEmail.Status.BOUNCED
    assert ra.needs_checking is True
    [event] = delivery_events(ra_request)
    assert "could not be delivered to ra.team@ra.example" in event.text
    [notice] = [row for row in OutboundEmail.objects.all() if "directory@cpe.example" in row.to]
    assert notice.to == ["directory@cpe.example", manager.email]
    assert ra.name in notice.subject
    assert f"/directory/ras/{ra.pk}/" in notice.body_text


def test_it_does_not_flag_an_ra_when_someone_elses_address_bounces(
    track: Track, ra_request: OutboundEmail, ra: Any
) -> None:
    track("bounced", recipient="sam.patel@highstreet.example")

    ra.refresh_from_db()
    assert ra.needs_checking is False
    assert not OutboundEmail.objects.filter(purpose=MailPurpose.NOTIFICATION).exists()
