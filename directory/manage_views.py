"""The directory manager's pages: list and search, create and edit RAs, LPCs, owners, pharmacies
and the ICB -> RA table; deactivate (never delete); each entry's history; the NHSBSA import.

Only the directory manager (and a superuser) may open them; anyone else gets 404, as for anything
outside their scope. Writes go through directory.services; the forms share the imports' rules.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.contrib import messages
from django.db import models
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from directory import forms, selectors, services
from directory.importer import DirectoryImportRejected
from directory.models import LPC, CorrectionReport, IcbRegistrationAuthority, Pharmacy, PharmacyOwner, User
from directory.models import RegistrationAuthority as RA
from directory.nhsbsa import nhsbsa_import
from directory.roles import may_edit_directory
from smartcard_route.pagination import paginate

PER_PAGE = 50


def _manager(request: HttpRequest) -> User:
    """The directory manager (or a superuser); anyone else gets 404."""
    user = request.user
    if not may_edit_directory(user):
        raise Http404("Not found")
    assert isinstance(user, User)
    return user


def _yes(value: bool) -> str:
    return "Active" if value else "Inactive"


@dataclass(frozen=True)
class EntryKind:
    """One kind of entry the directory manager keeps, as its pages show it."""

    slug: str
    model: type[models.Model]
    form: type[forms.EntryForm]
    singular: str
    plural: str
    headers: tuple[str, ...]
    cells: Callable[[Any], tuple[str, ...]]
    public_page: Callable[[Any], str] | None = None

    def title(self, entry: Any) -> str:
        return str(entry.icb_code if isinstance(entry, IcbRegistrationAuthority) else entry.name)


KINDS: dict[str, EntryKind] = {
    kind.slug: kind
    for kind in (
        EntryKind(
            "ras",
            RA,
            forms.RegistrationAuthorityForm,
            "Registration Authority",
            "Registration Authorities",
            ("Email", "Phone", "Status"),
            lambda ra: (ra.email, ra.phone, _yes(ra.active) + (", needs checking" if ra.needs_checking else "")),
            lambda ra: reverse("directory:ra_detail", args=[ra.pk]),
        ),
        EntryKind(
            "lpcs",
            LPC,
            forms.LPCForm,
            "LPC",
            "LPCs",
            ("LPC code", "Email", "Status"),
            lambda lpc: (lpc.code, lpc.email, _yes(lpc.active)),
            lambda lpc: reverse("directory:lpc_detail", args=[lpc.pk]),
        ),
        EntryKind(
            "owners",
            PharmacyOwner,
            forms.PharmacyOwnerForm,
            "pharmacy owner",
            "Pharmacy owners",
            ("Email", "Phone", "Status"),
            lambda owner: (owner.email, owner.phone, _yes(owner.active)),
        ),
        EntryKind(
            "pharmacies",
            Pharmacy,
            forms.PharmacyForm,
            "pharmacy",
            "Pharmacies",
            ("ODS code", "Postcode", "RA", "Status"),
            lambda p: (p.ods_code, p.postcode, p.ra.name if p.ra else "None recorded", _yes(p.active)),
            lambda p: reverse("directory:pharmacy_detail", args=[p.ods_code]),
        ),
        EntryKind(
            "icbs",
            IcbRegistrationAuthority,
            forms.IcbRegistrationAuthorityForm,
            "ICB's Registration Authority",
            "ICB -> RA table",
            ("ICB name", "Registration Authority"),
            lambda icb: (icb.icb_name, icb.ra.name),
        ),
    )
}


def _render(request: HttpRequest, template: str, context: dict[str, Any], status: int = 200) -> HttpResponse:
    return render(request, template, {**context, "manage_kinds": list(KINDS.values())}, status=status)


def _kind(slug: str) -> EntryKind:
    if slug not in KINDS:
        raise Http404("No such kind of entry")
    return KINDS[slug]


@require_GET
def manage_index(request: HttpRequest) -> HttpResponse:
    _manager(request)
    context = {
        "kinds": KINDS.values(),
        "open_reports": selectors.correction_reports_open().count(),
        "without_ra": selectors.pharmacies_without_ra().count(),
    }
    return _render(request, "directory/manage/index.jinja", context)


@require_GET
def entry_list(request: HttpRequest, kind: str) -> HttpResponse:
    _manager(request)
    entry_kind = _kind(kind)
    query = request.GET.get("q", "")[:100]
    entries = selectors.directory_entries(model=entry_kind.model, query=query)
    page, pagination = paginate(request, entries, PER_PAGE)
    rows = [(entry, entry_kind.cells(entry)) for entry in page.object_list]
    context = {"kind": entry_kind, "query": query, "page": page, "pagination": pagination, "rows": rows}
    return _render(request, "directory/manage/list.jinja", context)


def _open_report(request: HttpRequest) -> CorrectionReport | None:
    """The open correction report the manager came from (?report=), to go back to after saving."""
    pk = request.GET.get("report", "")
    if not pk.isdigit():
        return None
    return selectors.correction_reports_open().filter(pk=int(pk)).first()


def _edit(request: HttpRequest, entry_kind: EntryKind, entry: models.Model | None) -> HttpResponse:
    user = _manager(request)
    report = _open_report(request)
    # A new entry's form may be filled in from the link that led here (an ICB missing from the table).
    initial = {name: value for name, value in request.GET.items() if name != "report"} if entry is None else {}
    form = entry_kind.form(request.POST if request.method == "POST" else None, instance=entry, initial=initial)
    if form.is_valid():
        saved = services.directory_entry_save(user=user, form=form)
        verb = "Saved" if entry is not None else "Added"
        messages.success(request, f"{verb}: {entry_kind.title(saved)}.")
        if report is not None:
            return redirect("directory:correction_report_detail", report.pk)
        return redirect("directory:entry_edit", entry_kind.slug, saved.pk)
    context = {"kind": entry_kind, "entry": entry, "form": form, "report": report}
    return _render(request, "directory/manage/form.jinja", context, 400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
def entry_create(request: HttpRequest, kind: str) -> HttpResponse:
    return _edit(request, _kind(kind), None)


@require_http_methods(["GET", "POST"])
def entry_edit(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    _manager(request)
    entry_kind = _kind(kind)
    return _edit(request, entry_kind, get_object_or_404(entry_kind.model, pk=pk))


@require_GET
def entry_history(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    _manager(request)
    entry_kind = _kind(kind)
    entry = get_object_or_404(entry_kind.model, pk=pk)
    context = {"kind": entry_kind, "entry": entry, "versions": selectors.entry_history(entry=entry)}
    return _render(request, "directory/manage/history.jinja", context)


@require_GET
def pharmacies_without_ra(request: HttpRequest) -> HttpResponse:
    _manager(request)
    page, pagination = paginate(request, selectors.pharmacies_without_ra(), PER_PAGE)
    context = {"page": page, "pagination": pagination, "icbs": selectors.icbs_without_ra()}
    return _render(request, "directory/manage/without_ra.jinja", context)


@require_http_methods(["GET", "POST"])
def nhsbsa_upload(request: HttpRequest) -> HttpResponse:
    """Upload NHSBSA's Contractor Details CSV; import it (or only check it) and show what changed.

    The import runs in the request (about 10 s for England's 12,000 rows: docs/benchmarks.md)."""
    user = _manager(request)
    posted = request.method == "POST"
    form = forms.NhsbsaUploadForm(request.POST if posted else None, request.FILES if posted else None)
    context: dict[str, Any] = {"form": form}
    if form.is_valid():
        upload = form.cleaned_data["file"]
        with tempfile.TemporaryDirectory() as directory:
            path = Path(directory) / "contractor_details.csv"
            with path.open("wb") as handle:
                for chunk in upload.chunks():
                    handle.write(chunk)
            try:
                context["result"] = nhsbsa_import(
                    path=path,
                    display_name=Path(upload.name).name,
                    dry_run=form.cleaned_data["dry_run"],
                    keep_missing=form.cleaned_data["keep_missing"],
                    user=user,
                )
            except DirectoryImportRejected as rejected:
                form.add_error("file", f"Nothing was imported: the file has {len(rejected.errors)} problem(s)")
                context["problems"] = [str(error) for error in rejected.errors]
    status = 400 if form.errors else 200
    return _render(request, "directory/manage/import.jinja", context, status)
