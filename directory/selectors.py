"""Every read of the directory that views, tasks and the API share, already scoped to the user."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Count, Q, QuerySet

from directory.models import (
    LPC,
    CorrectionReport,
    IcbRegistrationAuthority,
    Pharmacy,
    RegistrationAuthority,
    User,
)
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
        .select_related("ra", "lpc", "pharmacy", "reporter")
        .order_by("created_at", "pk")
    )


def correction_reports_recently_done(*, limit: int = 20) -> QuerySet[CorrectionReport]:
    return (
        CorrectionReport.objects.filter(status=CorrectionReport.Status.DONE)
        .select_related("ra", "lpc", "pharmacy", "reporter", "resolved_by")
        .order_by("-resolved_at", "-pk")[:limit]
    )


# --- the directory manager's pages --------------------------------------------------------------


def directory_entries(*, model: type[models.Model], query: str = "") -> QuerySet[Any]:
    """Every entry of one kind, active ones first, those whose name (or code) contains `query`."""
    text = " ".join(query.split())
    entries: QuerySet[Any]
    if model is Pharmacy:
        entries = (pharmacy_search(query=text) if text else _pharmacies().order_by("name", "ods_code")).order_by(
            "-active", "name", "ods_code"
        )
        return entries
    if model is IcbRegistrationAuthority:
        entries = IcbRegistrationAuthority.objects.select_related("ra").order_by("icb_code")
        if text:
            entries = entries.filter(
                Q(icb_code__icontains=text) | Q(icb_name__icontains=text) | Q(ra__name__icontains=text)
            )
        return entries
    entries = model._default_manager.order_by("-active", "name")  # type: ignore[attr-defined]
    if text:
        condition = Q(name__icontains=text) | Q(email__icontains=text)
        if model is LPC:
            condition |= Q(code=text.upper())
        entries = entries.filter(condition)
    return entries


def pharmacies_without_ra() -> QuerySet[Pharmacy]:
    """Open pharmacies with no RA recorded: the directory manager's to-do after an import."""
    return (
        Pharmacy.objects.filter(active=True, ra__isnull=True)
        .select_related("owner", "lpc")
        .order_by("icb_code", "name", "ods_code")
    )


def icbs_without_ra() -> list[tuple[str, str, int]]:
    """(ICB code, name, open pharmacies) for each ICB of the directory's pharmacies that is not in
    the ICB -> RA table."""
    rows = (
        Pharmacy.objects.filter(active=True)
        .exclude(icb_code="")
        .exclude(icb_code__in=IcbRegistrationAuthority.objects.values("icb_code"))
        .values("icb_code")
        .annotate(count=Count("pk"), name=models.Max("icb_name"))
        .order_by("icb_code")
    )
    return [(row["icb_code"], row["name"], row["count"]) for row in rows]


@dataclass(frozen=True)
class Change:
    field: str  # the field's label
    before: str
    after: str


@dataclass(frozen=True)
class Version:
    """One version of an entry, as its history page shows it."""

    date: Any
    user: User | None
    kind: str  # Created, Changed, Deleted
    reason: str
    changes: list[Change]


_HISTORY_KINDS = {"+": "Created", "~": "Changed", "-": "Deleted"}
_NOT_SHOWN = {"updated_at", "id"}


def entry_history(*, entry: models.Model) -> list[Version]:
    """Every version of `entry`, newest first, each with what changed from the one before (who,
    when, before and after), from django-simple-history's rows. Foreign keys are shown by name."""
    records = list(
        entry.history.select_related("history_user").order_by("history_date", "history_id")  # type: ignore[attr-defined]
    )
    model = type(entry)
    fields = {f.name: f for f in model._meta.concrete_fields if f.name not in _NOT_SHOWN}
    names = _related_names(model, records, fields)
    versions: list[Version] = []
    previous = None
    for record in records:
        if previous is None:
            changes = [
                Change(str(f.verbose_name), "", _shown(f, getattr(record, f.attname), names))
                for f in fields.values()
                if getattr(record, f.attname) not in (None, "")
            ]
        else:
            delta = record.diff_against(previous, included_fields=list(fields))
            changes = [
                Change(
                    str(fields[c.field].verbose_name),
                    _shown(fields[c.field], c.old, names),
                    _shown(fields[c.field], c.new, names),
                )
                for c in delta.changes
            ]
        versions.append(
            Version(
                date=record.history_date,
                user=record.history_user,
                kind=_HISTORY_KINDS.get(record.history_type, record.history_type),
                reason=record.history_change_reason or "",
                changes=changes,
            )
        )
        previous = record
    versions.reverse()
    return versions


def _related_names(model: type[models.Model], records: list[Any], fields: dict[str, Any]) -> dict[tuple[str, Any], str]:
    """(field name, id) -> the related entry's name, for every foreign key value in the records."""
    names: dict[tuple[str, Any], str] = {}
    for name, f in fields.items():
        if not f.is_relation:
            continue
        ids = {getattr(record, f.attname) for record in records} - {None}
        related = f.related_model._default_manager.filter(pk__in=ids)
        names.update({(name, obj.pk): str(getattr(obj, "name", obj)) for obj in related})
    return names


def _shown(f: Any, value: Any, names: dict[tuple[str, Any], str]) -> str:
    if value is None or value == "":
        return ""
    if f.is_relation:
        return names.get((f.name, value), f"(removed, id {value})")
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if f.choices:
        return str(dict(f.flatchoices).get(value, value))
    return str(value)
