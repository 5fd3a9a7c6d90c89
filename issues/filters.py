"""THE filters of a list of issues (DESIGN.md, "Lists"): one FilterSet for the list page, the API's
list and (issue 9) the exports, so every filter has one rule in one place.

Scope comes first: the FilterSet filters `selectors.issue_list(user=...)`, the issues the user may
see, so no filter can widen it, and the RA and LPC choices are those of the pharmacies in the
user's scope. Every filter is a GET parameter, so a filtered list is a URL to bookmark or share. A
value that makes no sense (an unknown state, a date that does not exist, an ODS code of the wrong
shape, "reported after" later than "reported before") is a field error: the page shows it in an
NHS.UK error summary (400), the API answers 400 `{field: [messages]}`; never ignored.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field

from directory.models import LPC, RegistrationAuthority
from directory.validators import normalise_ods_code
from issues import selectors
from issues.forms import NhsukForm
from issues.models import Issue, Kind, State, parse_reference

STATE_CHOICES = [("open", "Open issues"), ("all", "All issues"), *State.choices]
DATE_FORMATS = ["%Y-%m-%d", "%d/%m/%Y"]
MAX_SEARCH = 200


@extend_schema_field(
    {
        "type": "string",
        "pattern": r"^([0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{2}/[0-9]{2}/[0-9]{4})?$",
        # No "example": Swagger UI's "Try it out" would fill it in and filter the list by it.
        "description": "A date, 2026-03-17 or 17/03/2026 (one that exists); blank for any date.",
    }
)
class DateOrBlankFilter(django_filters.DateFilter):
    """A date in either of DATE_FORMATS, or blank (a page's filter form sends its empty fields):
    the API's schema says so, rather than `format: date`, which allows neither."""


class YesNoField(forms.Field):
    """A yes/no filter: "on" (a ticked checkbox), "true", "1" or "yes" for yes; "false", "0", "off"
    or "no" for no; blank for either. Anything else is an error rather than a silent no."""

    YES = {"on", "true", "1", "yes"}
    NO = {"off", "false", "0", "no"}
    widget = forms.TextInput

    def to_python(self, value: Any) -> bool | None:
        text = str(value if value is not None else "").strip().lower()
        if not text:
            return None
        if text in self.YES:
            return True
        if text in self.NO:
            return False
        raise ValidationError(f"{self.label or 'This filter'} must be true or false", code="invalid")


class OdsCodeField(forms.CharField):
    """A pharmacy's ODS code, any case, checked for its shape (not for being in scope: the
    filter narrows the issues the user may see, so another pharmacy's code finds nothing)."""

    def to_python(self, value: Any) -> str:
        text = super().to_python(value)
        return normalise_ods_code(text) if text else ""


class YesNoFilter(django_filters.BooleanFilter):
    field_class = YesNoField


@extend_schema_field(
    {
        "type": "string",
        "pattern": r"^\s*([Ff][A-Za-z0-9]{4}|[A-Za-z][0-9][A-Za-z][0-9][A-Za-z])?\s*$",
        "description": "A pharmacy's ODS code, any case (FW844, A1B2C; FFFFF for locums); blank for any pharmacy.",
    }
)
class OdsCodeFilter(django_filters.CharFilter):
    field_class = OdsCodeField


class IssueFilterForm(NhsukForm):
    """The filters' form: the date range must run forwards."""

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        after, before = cleaned.get("reported_after"), cleaned.get("reported_before")
        if after and before and after > before:
            self.add_error(
                "reported_before", "The 'reported before' date must be the same as or after the 'reported after' date"
            )
        return cleaned


def _ras(request: HttpRequest | None) -> QuerySet[RegistrationAuthority]:
    return selectors.ras_in_scope(user=getattr(request, "user", None))


def _lpcs(request: HttpRequest | None) -> QuerySet[LPC]:
    return selectors.lpcs_in_scope(user=getattr(request, "user", None))


class IssueFilter(django_filters.FilterSet):
    """The issues the request's user may see, narrowed by the request's filters, newest first."""

    state = django_filters.ChoiceFilter(
        choices=STATE_CHOICES,
        method="filter_state",
        label="Show",
        empty_label=None,
        help_text='A state, "open" for every open state or "all".',
    )
    overdue = YesNoFilter(
        method="filter_overdue",
        label="Only overdue",
        help_text="true: only issues whose deadline has passed; false: only the others.",
    )
    emergency = YesNoFilter(
        field_name="is_emergency", label="Only emergencies", help_text="true: only emergencies; false: only the others."
    )
    kind = django_filters.ChoiceFilter(choices=Kind.choices, label="Kind of problem", empty_label="Any kind")
    pharmacy = OdsCodeFilter(
        field_name="pharmacy__ods_code", label="Pharmacy ODS code", help_text="For example, FW844.", max_length=10
    )
    ra = django_filters.ModelChoiceFilter(
        field_name="pharmacy__ra",
        queryset=_ras,
        label="Registration Authority",
        empty_label="Any RA",
        help_text="The id of an RA of a pharmacy you can see.",
    )
    lpc = django_filters.ModelChoiceFilter(
        field_name="pharmacy__lpc",
        queryset=_lpcs,
        label="LPC",
        empty_label="Any LPC",
        help_text="The id of an LPC of a pharmacy you can see.",
    )
    reported_after = DateOrBlankFilter(
        field_name="created_at",
        lookup_expr="date__gte",
        input_formats=DATE_FORMATS,
        label="Reported on or after",
        help_text="For example, 2026-03-17 or 17/03/2026.",
    )
    reported_before = DateOrBlankFilter(
        field_name="created_at",
        lookup_expr="date__lte",
        input_formats=DATE_FORMATS,
        label="Reported on or before",
        help_text="For example, 2026-03-31 or 31/03/2026.",
    )
    q = django_filters.CharFilter(
        method="filter_search",
        label="Search",
        max_length=MAX_SEARCH,
        help_text="A reference (SC-000123), an ODS code, a Smartcard number or words from the summary or details.",
    )

    class Meta:
        model = Issue
        fields: list[str] = []
        form = IssueFilterForm

    def __init__(self, data: Any = None, *, request: Any, prefix: str | None = None) -> None:
        """Filters over THE scope, `selectors.issue_list(user=request.user)`: no queryset is taken,
        so no caller can hand it a wider one."""
        user = getattr(request, "user", None)
        super().__init__(data, selectors.issue_list(user=user), request=request, prefix=prefix)

    def filter_state(self, queryset: QuerySet[Issue], name: str, value: str) -> QuerySet[Issue]:
        return queryset if value == "all" else queryset.filter(selectors.state_q(value))

    def filter_overdue(self, queryset: QuerySet[Issue], name: str, value: bool) -> QuerySet[Issue]:
        overdue = Issue.overdue_q(timezone.now())
        return queryset.filter(overdue) if value else queryset.exclude(overdue)

    def filter_search(self, queryset: QuerySet[Issue], name: str, value: str) -> QuerySet[Issue]:
        term = value.strip()
        match = Q(summary__icontains=term) | Q(details__icontains=term) | Q(pharmacy__ods_code__iexact=term)
        pk = parse_reference(term)
        if pk is not None:
            match |= Q(pk=pk)
        digits = term.replace(" ", "")
        if digits.isascii() and digits.isdigit():
            match |= Q(smartcard_number__contains=digits)
        return queryset.filter(match)
