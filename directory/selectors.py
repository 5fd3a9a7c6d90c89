"""Every read of the directory that views, tasks and the API share, already scoped to the user."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db.models import Count, Q, QuerySet

from directory.models import LPC, CorrectionReport, Pharmacy, RegistrationAuthority, User
from directory.roles import holds_roles, pharmacy_side
from directory.validators import normalise_postcode

_OUTWARD_CODE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]?$")
_ODS_LIKE = re.compile(r"^[A-Z0-9]{5}$")


def _pharmacies() -> QuerySet[Pharmacy]:
    return Pharmacy.objects.select_related("owner", "ra", "lpc")


def pharmacies_for_user(*, user: User) -> QuerySet[Pharmacy]:
    """The pharmacies a user acts for: those they are staff of or whose owner they belong to.

    CPE IT acts for every pharmacy. An LPC officer's area is a different scope (issues in their
    LPC's area once the LPC is involved) and is decided where issues are read.
    """
    if not holds_roles(user):
        return Pharmacy.objects.none()
    if user.is_cpe_it:
        return _pharmacies()
    # Subqueries, not joins, so a user who is both staff and owner member sees each pharmacy once.
    return _pharmacies().filter(pharmacy_side(user))


def pharmacy_search(*, query: str) -> QuerySet[Pharmacy]:
    """Pharmacies whose ODS code or postcode matches, or whose name contains the query.

    An ODS code matches exactly; a full postcode matches exactly and an outward code alone (LS1)
    matches every postcode of that district. Anyone logged in may search the whole directory.
    """
    text = " ".join(query.split())
    if not text:
        return Pharmacy.objects.none()
    upper = text.upper()
    condition = Q(name__icontains=text)
    compact = upper.replace(" ", "")
    if _ODS_LIKE.match(compact):
        condition |= Q(ods_code=compact)
    try:
        condition |= Q(postcode=normalise_postcode(upper))
    except ValidationError:
        if _OUTWARD_CODE.match(compact):
            condition |= Q(postcode__startswith=f"{compact} ")
    return _pharmacies().filter(condition).order_by("name", "ods_code")


def pharmacy_by_ods_code(*, ods_code: str) -> Pharmacy | None:
    return _pharmacies().filter(ods_code=ods_code.strip().upper()).first()


def registration_authorities_listed() -> QuerySet[RegistrationAuthority]:
    """Every RA, active ones first, with how many pharmacies each serves."""
    return RegistrationAuthority.objects.annotate(pharmacy_count=Count("pharmacies")).order_by("-active", "name")


def lpcs_listed() -> QuerySet[LPC]:
    return LPC.objects.annotate(pharmacy_count=Count("pharmacies")).order_by("name")


def pharmacies_served_by(*, ra: RegistrationAuthority) -> QuerySet[Pharmacy]:
    return Pharmacy.objects.filter(ra=ra).select_related("owner", "lpc").order_by("name", "ods_code")


def pharmacies_in_area_of(*, lpc: LPC) -> QuerySet[Pharmacy]:
    return Pharmacy.objects.filter(lpc=lpc).select_related("owner", "ra").order_by("name", "ods_code")


def correction_reports_open() -> QuerySet[CorrectionReport]:
    """Open correction reports, oldest first: the directory manager's queue."""
    return (
        CorrectionReport.objects.filter(status=CorrectionReport.Status.OPEN)
        .select_related("ra", "lpc", "reporter")
        .order_by("created_at", "pk")
    )


def correction_reports_recently_done(*, limit: int = 20) -> QuerySet[CorrectionReport]:
    return (
        CorrectionReport.objects.filter(status=CorrectionReport.Status.DONE)
        .select_related("ra", "lpc", "reporter", "resolved_by")
        .order_by("-resolved_at", "-pk")[:limit]
    )
