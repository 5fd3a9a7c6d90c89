"""Subject-access export (issue 11): the directory manager or CPE IT finds a person by email address
and downloads everything held about them, as JSON or as a readable page. Each download is audited
(directory.models.SubjectAccessExport) and the search page lists past exports. Anyone else: 403."""

from __future__ import annotations

import json

from django.core.exceptions import PermissionDenied
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from directory.forms import SubjectAccessExportForm, SubjectAccessForm
from directory.models import User
from directory.services import subject_access_export_record
from issues.selectors.subject_access import (
    may_export_subject_access,
    subject_access_exports,
    subject_access_gather,
)
from issues.views.shared import _user
from smartcard_route.dates import moment_in_filename


def _exporter(request: HttpRequest) -> User:
    user = _user(request)
    if not may_export_subject_access(user=user):
        raise PermissionDenied("Only the directory manager and CPE IT can export a person's data.")
    return user


@require_GET
def subject_access_search(request: HttpRequest) -> HttpResponse:
    _exporter(request)
    form = SubjectAccessForm(request.GET if "email" in request.GET else None)
    found = subject_access_gather(email=form.cleaned_data["email"]) if form.is_valid() else None
    context = {"form": form, "found": found, "exports": subject_access_exports()}
    return render(request, "issues/subject_access/search.jinja", context, status=400 if form.errors else 200)


@require_POST
def subject_access_export(request: HttpRequest) -> HttpResponse:
    user = _exporter(request)
    form = SubjectAccessExportForm(request.POST)
    if not form.is_valid():
        context = {"form": form, "found": None, "exports": subject_access_exports()}
        return render(request, "issues/subject_access/search.jinja", context, status=400)
    found = subject_access_gather(email=form.cleaned_data["email"])
    chosen = form.cleaned_data["format"]
    subject_access_export_record(requested_by=user, subject_email=found.email, subject=found.user, format=chosen)
    if chosen == "page":
        return render(request, "issues/subject_access/export.jinja", {"found": found})
    response = HttpResponse(
        json.dumps(found.as_json(), cls=DjangoJSONEncoder, indent=2, ensure_ascii=False),
        content_type="application/json; charset=utf-8",
    )
    stamp = moment_in_filename(found.generated_at)
    response["Content-Disposition"] = f'attachment; filename="subject-access-{stamp}.json"'
    return response
