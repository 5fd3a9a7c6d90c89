"""factory_boy factories for the directory and issues, shared by the whole suite.

The persona fixtures (tests/conftest.py) build on these: one pharmacy with an owner organisation,
an RA and an LPC, and a person in each role.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import factory
from django.utils import timezone

from directory.models import LPC, Pharmacy, PharmacyOwner, RegistrationAuthority, User
from issues.models import Deadline, Issue, IssueEvent, IssueOutboundEmail, Kind, State
from smartcard_route.mail.models import OutboundEmail
from tests.synthetic import ods_code


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        django_get_or_create = ("email",)
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.org")
    full_name = factory.Sequence(lambda n: f"Person {n}")
    password = factory.PostGenerationMethodCall("set_password", "correct-horse-battery")

    @factory.post_generation
    def save_password(obj: User, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create:
            obj.save()


class RegistrationAuthorityFactory(factory.django.DjangoModelFactory[RegistrationAuthority]):
    class Meta:
        model = RegistrationAuthority

    name = factory.Sequence(lambda n: f"Registration Authority {n}")
    email = factory.Sequence(lambda n: f"ra{n}@nhs.example")
    phone = "0113 496 0000"
    active = True


class LPCFactory(factory.django.DjangoModelFactory[LPC]):
    class Meta:
        model = LPC
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Community Pharmacy Area {n}")
    email = factory.Sequence(lambda n: f"lpc{n}@lpc.example")

    @factory.post_generation
    def officers(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create and extracted:
            self.officers.add(*extracted)


class PharmacyOwnerFactory(factory.django.DjangoModelFactory[PharmacyOwner]):
    class Meta:
        model = PharmacyOwner
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Owner Organisation {n}")
    email = factory.Sequence(lambda n: f"owner{n}@owner.example")

    @factory.post_generation
    def members(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create and extracted:
            self.members.add(*extracted)


class PharmacyFactory(factory.django.DjangoModelFactory[Pharmacy]):
    class Meta:
        model = Pharmacy
        skip_postgeneration_save = True

    ods_code = factory.Sequence(ods_code)
    name = factory.Sequence(lambda n: f"High Street Pharmacy {n}")
    postcode = "LS1 4AP"
    phone = "0113 496 0001"
    owner = factory.SubFactory(PharmacyOwnerFactory)
    ra = factory.SubFactory(RegistrationAuthorityFactory)
    lpc = factory.SubFactory(LPCFactory)

    @factory.post_generation
    def staff(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create and extracted:
            self.staff.add(*extracted)


class IssueFactory(factory.django.DjangoModelFactory[Issue]):
    """An issue in any state. The state is set at creation (the FSM field is protected afterwards);
    the fields that go with the state (LPC involvement, resolution, deadline) follow from it."""

    class Meta:
        model = Issue

    pharmacy = factory.SubFactory(PharmacyFactory)
    reporter = factory.SubFactory(UserFactory)
    kind = Kind.LOCKED
    summary = factory.Sequence(lambda n: f"Card locked after three wrong passcodes ({n})")
    details = "The card locked this morning."
    smartcard_number = "123456789012"
    contact_name = "Sam Patel"
    contact_phone = "0113 496 0002"
    state = State.IN_PHARMACY
    lpc_involved_at = factory.LazyAttribute(
        lambda o: timezone.now() if o.state in (State.LPC_CC, State.ESCALATED) else None
    )
    resolved_from_state = factory.LazyAttribute(lambda o: State.RA_CONTACTED if o.state == State.RESOLVED else "")
    resolved_at = factory.LazyAttribute(lambda o: timezone.now() if o.state == State.RESOLVED else None)
    resolution_note = factory.LazyAttribute(lambda o: "Unlocked by the RA." if o.state == State.RESOLVED else "")
    fixed_by_step = factory.LazyAttribute(lambda o: "ra" if o.state == State.RESOLVED else "")
    withdrawn_reason = factory.LazyAttribute(lambda o: "Reported twice." if o.state == State.WITHDRAWN else "")
    due_kind = factory.LazyAttribute(
        lambda o: {
            State.RA_CONTACTED: Deadline.RA_REPLY,
            State.LPC_CC: Deadline.LPC_ACTION,
            State.ESCALATED: Deadline.CPE_TRIAGE,
        }.get(o.state, Deadline.NONE)
    )
    due_at = factory.LazyAttribute(lambda o: timezone.now() + timedelta(days=2) if o.due_kind else None)
    # As start_clock sets it: the first reminder at the deadline.
    next_nudge_at = factory.LazyAttribute(lambda o: o.due_at)


class IssueEventFactory(factory.django.DjangoModelFactory[IssueEvent]):
    class Meta:
        model = IssueEvent

    issue = factory.SubFactory(IssueFactory)
    kind = "note"
    text = "A note."


def outbound_email_about(issue: Issue, *, event: IssueEvent | None = None, **fields: Any) -> OutboundEmail:
    """An outbox row written about `issue` (with its link row), as issues.correspondence.outbound writes them."""
    email = OutboundEmail.objects.create(**fields)
    IssueOutboundEmail.objects.create(email=email, issue=issue, event=event)
    return email


def historical_issue(model: Any, *, pharmacy: Pharmacy, reporter: User, **fields: Any) -> Any:
    """An issue made with `model`, the Issue of an earlier migration state (the migration tests:
    today's model has columns the table does not have yet), with what every issue needs."""
    defaults = {
        "kind": "locked",
        "summary": "Card locked",
        "contact_name": "Sam Patel",
        "contact_phone": "0113 496 0002",
    }
    return model.objects.create(pharmacy_id=pharmacy.pk, reporter_id=reporter.pk, **{**defaults, **fields})
