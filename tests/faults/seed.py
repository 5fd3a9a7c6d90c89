"""Seed a fault test's private database (run as `python -m tests.faults.seed [overdue N]` with the
site's environment) and print what the test needs as one line of JSON: a pharmacy with its RA,
a member of staff with an API token and a logged-in session, and optionally N issues waiting past
their RA reply deadline (each nudge goes to the reporter and the owner: two emails)."""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from typing import cast

import django


def main(argv: list[str]) -> dict[str, object]:
    django.setup()
    from django.test import Client
    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    from directory.models import User
    from issues.models import Issue, State
    from tests.issues.factories import IssueFactory, PharmacyFactory, PharmacyOwnerFactory, UserFactory

    staff = cast(User, UserFactory(email="sam.patel@highstreet.example", full_name="Sam Patel"))
    owner = UserFactory(email="olu.owner@highstreet.example", full_name="Olu Owner")
    pharmacy = PharmacyFactory(name="High Street Pharmacy", staff=[staff], owner=PharmacyOwnerFactory(members=[owner]))
    client = Client()
    client.force_login(staff)
    overdue = int(argv[argv.index("overdue") + 1]) if "overdue" in argv else 0
    past = timezone.now() - timedelta(minutes=5)
    issues: list[Issue] = [
        cast(Issue, IssueFactory(pharmacy=pharmacy, reporter=staff, state=State.RA_CONTACTED, due_at=past))
        for _ in range(overdue)
    ]
    return {
        "token": Token.objects.create(user=staff).key,
        "session": client.cookies["sessionid"].value,
        "ods": pharmacy.ods_code,
        "overdue": [issue.reference for issue in issues],
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:])))
