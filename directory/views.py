"""Directory pages: pharmacy search, RAs, LPCs, correction reports.

Every logged-in user may read the directory; only the directory manager sees the correction
reports (everyone else gets 404, as for anything outside their scope).
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from directory import selectors, services
from directory.emails import target_page
from directory.forms import CorrectionHandledForm, CorrectionReportForm, PharmacySearchForm
from directory.models import LPC, CorrectionReport, Pharmacy, RegistrationAuthority, User
from directory.roles import may_edit_directory
from smartcard_route.pagination import paginate

RESULTS_PER_PAGE = 25
LIST_PER_PAGE = 50


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # the login-required middleware guarantees it
    return user


@require_GET
def pharmacy_search(request: HttpRequest) -> HttpResponse:
    form = PharmacySearchForm(request.GET or None)
    query = form.cleaned_data["q"] if form.is_bound and form.is_valid() else ""
    if query or form.errors:
        results = selectors.pharmacy_search(query=query)
    else:  # no search yet: the pharmacies the user acts for
        results = selectors.pharmacies_for_user(user=_user(request)).order_by("name", "ods_code")
    page, pagination = paginate(request, results, RESULTS_PER_PAGE)
    context = {"form": form, "query": query, "page": page, "pagination": pagination}
    return render(request, "directory/pharmacy_search.jinja", context)


@require_GET
def pharmacy_detail(request: HttpRequest, ods_code: str) -> HttpResponse:
    pharmacy = selectors.pharmacy_by_ods_code(ods_code=ods_code)
    if pharmacy is None:
        raise Http404("No pharmacy with that ODS code")
    return render(request, "directory/pharmacy_detail.jinja", {"pharmacy": pharmacy})


@require_GET
def ra_list(request: HttpRequest) -> HttpResponse:
    page, pagination = paginate(request, selectors.registration_authorities_listed(), LIST_PER_PAGE)
    return render(request, "directory/ra_list.jinja", {"page": page, "pagination": pagination})


@require_GET
def ra_detail(request: HttpRequest, pk: int) -> HttpResponse:
    ra = get_object_or_404(RegistrationAuthority, pk=pk)
    page, pagination = paginate(request, selectors.pharmacies_served_by(ra=ra), RESULTS_PER_PAGE)
    return render(request, "directory/ra_detail.jinja", {"ra": ra, "page": page, "pagination": pagination})


@require_GET
def lpc_list(request: HttpRequest) -> HttpResponse:
    page, pagination = paginate(request, selectors.lpcs_listed(), LIST_PER_PAGE)
    return render(request, "directory/lpc_list.jinja", {"page": page, "pagination": pagination})


@require_GET
def lpc_detail(request: HttpRequest, pk: int) -> HttpResponse:
    lpc = get_object_or_404(LPC, pk=pk)
    page, pagination = paginate(request, selectors.pharmacies_in_area_of(lpc=lpc), RESULTS_PER_PAGE)
    return render(request, "directory/lpc_detail.jinja", {"lpc": lpc, "page": page, "pagination": pagination})


def _report_correction(
    request: HttpRequest, target: RegistrationAuthority | LPC | Pharmacy, target_url: str
) -> HttpResponse:
    form = CorrectionReportForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        services.correction_report_create(reporter=_user(request), target=target, details=form.cleaned_data["details"])
        messages.success(request, "Thank you. The directory manager has your report and will check these details.")
        return redirect(target_url)
    context = {"form": form, "target": target, "target_url": target_url}
    return render(request, "directory/correction_report_form.jinja", context, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
def ra_report(request: HttpRequest, pk: int) -> HttpResponse:
    ra = get_object_or_404(RegistrationAuthority, pk=pk)
    return _report_correction(request, ra, reverse("directory:ra_detail", args=[ra.pk]))


@require_http_methods(["GET", "POST"])
def lpc_report(request: HttpRequest, pk: int) -> HttpResponse:
    lpc = get_object_or_404(LPC, pk=pk)
    return _report_correction(request, lpc, reverse("directory:lpc_detail", args=[lpc.pk]))


@require_http_methods(["GET", "POST"])
def pharmacy_report(request: HttpRequest, ods_code: str) -> HttpResponse:
    pharmacy = selectors.pharmacy_by_ods_code(ods_code=ods_code)
    if pharmacy is None:
        raise Http404("No pharmacy with that ODS code")
    return _report_correction(request, pharmacy, reverse("directory:pharmacy_detail", args=[pharmacy.ods_code]))


def _directory_manager(request: HttpRequest) -> User:
    """The directory manager (or a superuser); anyone else gets 404, as for anything outside their scope."""
    user = _user(request)
    if not may_edit_directory(user):
        raise Http404("Not found")
    return user


@require_GET
def correction_reports(request: HttpRequest) -> HttpResponse:
    _directory_manager(request)
    page, pagination = paginate(request, selectors.correction_reports_open(), RESULTS_PER_PAGE)
    context = {"page": page, "pagination": pagination, "done": selectors.correction_reports_recently_done()}
    return render(request, "directory/correction_reports.jinja", context)


def _report_page(request: HttpRequest, report: CorrectionReport, form: CorrectionHandledForm) -> HttpResponse:
    kind = "ras" if report.ra_id else "lpcs" if report.lpc_id else "pharmacies"
    context = {
        "report": report,
        "form": form,
        "target_url": target_page(report),
        "edit_url": reverse("directory:entry_edit", args=[kind, report.target.pk]) + f"?report={report.pk}",
        "history_url": reverse("directory:entry_history", args=[kind, report.target.pk]),
    }
    return render(request, "directory/correction_report.jinja", context, status=400 if form.errors else 200)


@require_GET
def correction_report_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _directory_manager(request)
    report = get_object_or_404(CorrectionReport.objects.select_related("ra", "lpc", "pharmacy", "reporter"), pk=pk)
    return _report_page(request, report, CorrectionHandledForm())


@require_POST
def correction_report_done(request: HttpRequest, pk: int) -> HttpResponse:
    user = _directory_manager(request)
    report = get_object_or_404(CorrectionReport.objects.select_related("ra", "lpc", "pharmacy", "reporter"), pk=pk)
    form = CorrectionHandledForm(request.POST)
    if not form.is_valid():
        return _report_page(request, report, form)
    name = report.target.name
    if services.correction_report_mark_done(user=user, report=report, note=form.cleaned_data["handling_note"]):
        messages.success(request, f"Marked done: the report about {name}. {report.reporter.full_name} has been told.")
    else:
        messages.info(request, f"The report about {name} was already marked done.")
    return redirect("directory:correction_reports")
