"""issues.filters.IssueFilter: each filter narrows, filters combine, scope holds, nonsense is an error."""

from __future__ import annotations

from datetime import datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from issues.filters import IssueFilter
from issues.models import Kind, State
from tests.issues.factories import IssueFactory, PharmacyFactory

pytestmark = pytest.mark.django_db
LONDON = ZoneInfo("Europe/London")


def pks(user, **data):
    filters = IssueFilter(data, request=SimpleNamespace(user=user))
    assert filters.is_valid(), filters.errors
    return set(filters.qs.values_list("pk", flat=True))


def errors(user, **data):
    filters = IssueFilter(data, request=SimpleNamespace(user=user))
    assert not filters.is_valid()
    return filters.errors


@pytest.fixture
def assorted(pharmacy, staff, owner):
    second = PharmacyFactory.create(name="Hillside Pharmacy", ods_code="FB456", owner=pharmacy.owner)
    past = timezone.now() - timedelta(hours=1)
    return {
        "overdue": IssueFactory.create(pharmacy=pharmacy, state=State.RA_CONTACTED, due_at=past),
        "waiting": IssueFactory.create(
            pharmacy=pharmacy, state=State.RA_CONTACTED, due_at=timezone.now() + timedelta(days=1)
        ),
        "done": IssueFactory.create(pharmacy=pharmacy, state=State.RESOLVED, kind=Kind.LOST_STOLEN_DAMAGED),
        "urgent": IssueFactory.create(
            pharmacy=second,
            is_emergency=True,
            summary="Cannot dispense at all",
            smartcard_number="987654321098",
            created_at=datetime(2026, 3, 17, 9, tzinfo=LONDON),
        ),
        "old": IssueFactory.create(
            pharmacy=second, details="The reader beeps twice", created_at=datetime(2026, 1, 5, 9, tzinfo=LONDON)
        ),
    }


def test_each_filter_narrows(owner, assorted):
    a = {name: issue.pk for name, issue in assorted.items()}
    second = assorted["urgent"].pharmacy
    assert pks(owner, overdue="on") == {a["overdue"]}
    assert pks(owner, overdue="false") == set(a.values()) - {a["overdue"]}
    assert pks(owner, state="resolved") == {a["done"]}
    assert pks(owner, state="open") == set(a.values()) - {a["done"]}
    assert pks(owner, state="all") == set(a.values())
    assert pks(owner, kind="lost_stolen_damaged") == {a["done"]}
    assert pks(owner, pharmacy="fb456") == {a["urgent"], a["old"]}
    assert pks(owner, ra=str(second.ra_id)) == {a["urgent"], a["old"]}
    assert pks(owner, lpc=str(second.lpc_id)) == {a["urgent"], a["old"]}
    assert pks(owner, emergency="true") == {a["urgent"]}
    assert pks(owner, reported_after="2026-03-01", reported_before="31/03/2026") == {a["urgent"]}
    assert pks(owner, reported_before="2026-03-16") == {a["old"]}
    assert pks(owner, q=assorted["done"].reference.lower()) == {a["done"]}
    assert pks(owner, q="FB456") == {a["urgent"], a["old"]}
    assert pks(owner, q="9876 5432 1098") == {a["urgent"]}
    assert pks(owner, q="dispense") == {a["urgent"]}
    assert pks(owner, q="beeps") == {a["old"]}


def test_filters_combine(owner, assorted):
    a = {name: issue.pk for name, issue in assorted.items()}
    assert pks(owner, state="ra_contacted", overdue="false") == {a["waiting"]}
    assert pks(owner, pharmacy="FB456", emergency="false") == {a["old"]}
    assert pks(owner, pharmacy="FB456", state="resolved") == set()


def test_scope_holds_whatever_the_filter(staff, outsider, lpc_officer, pharmacy, issue):
    theirs = IssueFactory.create(pharmacy=outsider.pharmacies.get(), lpc_involved_at=timezone.now())
    other_lpc = theirs.pharmacy.lpc_id
    for data in ({}, {"state": "all"}, {"pharmacy": "FZ999"}, {"q": theirs.reference}, {"q": "FZ999"}):
        assert theirs.pk not in pks(staff, **data)
        assert theirs.pk not in pks(lpc_officer, **data)
    # Another LPC or another pharmacy's RA is no choice at all for them.
    assert "lpc" in errors(lpc_officer, lpc=str(other_lpc))
    assert "ra" in errors(staff, ra=str(theirs.pharmacy.ra_id))
    # The LPC sees its pharmacy's issue only once involved, whatever the filter.
    assert pks(lpc_officer, pharmacy=pharmacy.ods_code, state="all") == set()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"state": "banana"}, "state"),
        ({"kind": "x"}, "kind"),
        ({"reported_after": "31/02/2026"}, "reported_after"),
        ({"pharmacy": "999999"}, "pharmacy"),
        ({"overdue": "maybe"}, "overdue"),
        ({"emergency": "perhaps"}, "emergency"),
        ({"ra": "999999"}, "ra"),
        ({"lpc": "nope"}, "lpc"),
        ({"reported_after": "2026-03-02", "reported_before": "2026-03-01"}, "reported_before"),
    ],
)
def test_a_nonsense_value_is_a_field_error(staff, data, field):
    assert list(errors(staff, **data)) == [field]
