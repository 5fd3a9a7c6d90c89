"""The directory's pages: pharmacy search and detail, RA and LPC pages and lists."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from directory.models import Pharmacy, RegistrationAuthority
from tests.issues.factories import (
    LPCFactory,
    PharmacyFactory,
    PharmacyOwnerFactory,
    RegistrationAuthorityFactory,
)

pytestmark = pytest.mark.django_db

SEARCH = reverse("directory:pharmacy_search")


@pytest.fixture
def elm(db):
    """A second pharmacy, elsewhere, to tell matches from everything."""
    return PharmacyFactory(name="Elm Tree Chemist", ods_code="A1B2C", postcode="M1 1AE")


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def listed_ods_codes(response) -> list[str]:
    """The ODS codes of the pharmacies in the page's table, in order (Jinja2 pages have no context)."""
    return re.findall(
        r'<td class="nhsuk-table__cell"><a href="/directory/pharmacies/(\w{5})/">', response.content.decode()
    )


def listed_links(response, prefix: str) -> list[str]:
    """The texts of table-cell links to `prefix...`, in order."""
    pattern = rf'<a href="{re.escape(prefix)}\d+/">([^<]+)</a>'
    return re.findall(pattern, response.content.decode().split("<tbody", 1)[-1])


def test_it_needs_a_login(client):
    response = client.get(SEARCH)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_it_lists_your_own_pharmacies_before_any_search(staff_client, pharmacy, elm):
    response = staff_client.get(SEARCH)

    assert response.status_code == 200
    assert listed_ods_codes(response) == ["FA123"]
    assert b"Your pharmacies" in response.content


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("fa123", ["FA123"]),  # ODS code, any case
        ("a1b2c", ["A1B2C"]),
        ("riverside", ["FA123"]),  # part of the name
        ("tree chem", ["A1B2C"]),
        ("ls14ap", ["FA123"]),  # full postcode, without the space
        ("m1", ["A1B2C"]),  # outward code: the district
        ("nowhere", []),
    ],
)
def test_it_finds_pharmacies_by_ods_code_name_or_postcode(staff_client, pharmacy, elm, query, expected):
    response = staff_client.get(SEARCH, {"q": query})

    assert response.status_code == 200
    assert listed_ods_codes(response) == expected


def test_it_does_not_take_a_district_for_its_neighbours(staff_client):
    PharmacyFactory(ods_code="FM001", postcode="M1 1AE")
    PharmacyFactory(ods_code="FM011", postcode="M11 1AA")

    response = staff_client.get(SEARCH, {"q": "M1"})

    assert listed_ods_codes(response) == ["FM001"]


def test_it_says_when_nothing_matches(staff_client, pharmacy):
    response = staff_client.get(SEARCH, {"q": "Nowhere Pharmacy"})

    assert "0 pharmacies match" in response.content.decode()
    assert "No pharmacy has that ODS code or postcode" in response.content.decode()


def test_it_shows_an_error_summary_for_a_search_that_is_too_long(staff_client):
    response = staff_client.get(SEARCH, {"q": "x" * 101})

    content = response.content.decode()
    assert "nhsuk-error-summary" in content
    assert 'href="#id_q"' in content
    assert "Search for 100 characters or fewer" in content
    assert "<title>Error: " in content


def test_it_paginates_results_and_keeps_the_query(staff_client):
    owner = PharmacyOwnerFactory()
    for n in range(30):
        PharmacyFactory(name=f"Birch Pharmacy {n:02}", owner=owner, ra=None, lpc=None)

    first = staff_client.get(SEARCH, {"q": "birch"})
    second = staff_client.get(SEARCH, {"q": "birch", "page": 2})

    assert len(listed_ods_codes(first)) == 25
    assert "?q=birch&amp;page=2" in first.content.decode()
    birches = Pharmacy.objects.filter(name__startswith="Birch").order_by("name")
    assert listed_ods_codes(second) == [p.ods_code for p in birches[25:]]


def test_it_keeps_the_query_count_of_a_search_constant(staff_client, django_assert_max_num_queries):
    for n in range(60):
        PharmacyFactory(name=f"Cedar Pharmacy {n:02}")  # each with its own owner, RA and LPC

    with django_assert_max_num_queries(7):
        response = staff_client.get(SEARCH, {"q": "cedar"})

    assert len(listed_ods_codes(response)) == 25


def test_it_shows_a_pharmacy_with_its_ra_lpc_and_owner(staff_client, pharmacy):
    response = staff_client.get(reverse("directory:pharmacy_detail", args=["fa123"]))

    content = response.content.decode()
    assert response.status_code == 200
    assert pharmacy.name in content
    assert pharmacy.owner.name in content
    assert reverse("directory:ra_detail", args=[pharmacy.ra.pk]) in content
    assert f"mailto:{pharmacy.ra.email}" in content
    assert reverse("directory:lpc_detail", args=[pharmacy.lpc.pk]) in content


def test_it_answers_404_for_an_unknown_pharmacy(staff_client):
    assert staff_client.get(reverse("directory:pharmacy_detail", args=["FZZZZ"])).status_code == 404


def test_it_shows_an_ra_with_its_contact_details_and_pharmacies(staff_client, pharmacy, elm):
    ra = pharmacy.ra
    ra.postal_address = "Floor 2, Minster House\nYork"
    ra.website = "https://ra.example/desk"
    ra.save()

    response = staff_client.get(reverse("directory:ra_detail", args=[ra.pk]))

    content = response.content.decode()
    assert response.status_code == 200
    assert ra.name in content and ra.email in content and "0113 496 0000" in content
    assert "Floor 2, Minster House<br>York" in content
    assert "https://ra.example/desk" in content
    assert listed_ods_codes(response) == ["FA123"]
    assert reverse("directory:ra_report", args=[ra.pk]) in content
    assert "Report wrong or missing details" in content


def test_it_warns_when_an_ra_needs_checking(staff_client):
    ra = RegistrationAuthority.objects.create(name="Ash RA", needs_checking=True)

    response = staff_client.get(reverse("directory:ra_detail", args=[ra.pk]))

    assert "These details may be out of date" in response.content.decode()


def test_it_keeps_the_query_count_of_an_ra_page_constant(staff_client, django_assert_max_num_queries):
    ra = RegistrationAuthority.objects.create(name="Pine RA")
    for n in range(60):
        PharmacyFactory(name=f"Pine Pharmacy {n:02}", ra=ra)  # each with its own owner and LPC

    with django_assert_max_num_queries(7):
        response = staff_client.get(reverse("directory:ra_detail", args=[ra.pk]), {"page": 2})

    assert len(listed_ods_codes(response)) == 25
    assert "Pharmacies it serves (60)" in response.content.decode()


def test_it_shows_an_lpc_with_the_pharmacies_in_its_area(staff_client, pharmacy, elm):
    lpc = pharmacy.lpc

    response = staff_client.get(reverse("directory:lpc_detail", args=[lpc.pk]))

    assert response.status_code == 200
    assert lpc.name in response.content.decode()
    assert listed_ods_codes(response) == ["FA123"]
    assert reverse("directory:lpc_report", args=[lpc.pk]) in response.content.decode()


@pytest.mark.parametrize("name", ["directory:ra_detail", "directory:lpc_detail", "directory:ra_report"])
def test_it_answers_404_for_an_unknown_ra_or_lpc(staff_client, name):
    assert staff_client.get(reverse(name, args=[999999])).status_code == 404


def test_it_lists_ras_active_first_with_their_pharmacy_counts(staff_client, django_assert_max_num_queries):
    closed = RegistrationAuthorityFactory(name="Aardvark RA", active=False)
    open_ = RegistrationAuthorityFactory(name="Beech RA")
    for _ in range(3):
        PharmacyFactory(ra=open_)
    for n in range(60):
        RegistrationAuthorityFactory(name=f"Other RA {n:02}")

    with django_assert_max_num_queries(7):
        response = staff_client.get(reverse("directory:ra_list"), {"page": 2})
    first = staff_client.get(reverse("directory:ra_list"))

    ras = "/directory/ras/"
    assert closed.name not in listed_links(first, ras)  # inactive ones come last, on page 2
    assert listed_links(response, ras)[-1] == closed.name
    assert "Inactive" in response.content.decode()
    beech_row = first.content.decode().split(f">{open_.name}</a>", 1)[1].split("</tr>", 1)[0]
    assert beech_row.strip().endswith('<td class="nhsuk-table__cell nhsuk-table__cell--numeric">3</td>')


def test_it_lists_lpcs(staff_client, pharmacy, django_assert_max_num_queries):
    for n in range(60):
        LPCFactory(name=f"Community Pharmacy Place {n:02}")

    with django_assert_max_num_queries(7):
        response = staff_client.get(reverse("directory:lpc_list"))

    assert response.status_code == 200
    assert len(listed_links(response, "/directory/lpcs/")) == 50
