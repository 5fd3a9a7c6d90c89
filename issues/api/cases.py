"""/api/v1/cases/: systemic cases in the JSON API, CPE IT's alone (404 for everyone else, as the
pages answer). Reads through issues.selectors.cases, writes through the case services; the bodies
only read what was sent and the services validate it (400 with field errors), a change the case's
status does not allow answers 409 (issues.case_rules)."""

from __future__ import annotations

from typing import Any

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from issues import services
from issues.api.serializers import ErrorSerializer
from issues.api.views import (
    API_AUTHENTICATION,
    FIELD_ERRORS,
    UNAUTHENTICATED,
    IssuePagination,
    api_exception_for,
)
from issues.evidence_pack import evidence_pack_response
from issues.models import CaseEvent, CaseEventKind, CaseStatus, Issue, Kind, State, SystemicCase
from issues.presentation import deadline_text, status_label
from issues.selectors import cases as case_selectors

# Output ---------------------------------------------------------------------------------------


class CaseIssueSerializer(serializers.ModelSerializer[Issue]):
    reference = serializers.CharField(read_only=True)
    kind = serializers.ChoiceField(choices=Kind.choices, read_only=True)
    state = serializers.ChoiceField(choices=State.choices, read_only=True)
    status_label = serializers.SerializerMethodField()
    pharmacy = serializers.SerializerMethodField(help_text="The pharmacy's ODS code.")
    ra = serializers.SerializerMethodField(help_text="The pharmacy's RA, by name (null when none).")
    deadline_text = serializers.SerializerMethodField()

    class Meta:
        model = Issue
        fields = ("reference", "summary", "kind", "state", "status_label", "pharmacy", "ra", "due_at", "deadline_text")
        read_only_fields = fields

    def get_status_label(self, issue: Issue) -> str:
        return status_label(issue)

    def get_pharmacy(self, issue: Issue) -> str:
        return issue.pharmacy.ods_code

    def get_ra(self, issue: Issue) -> str | None:
        return issue.pharmacy.ra.name if issue.pharmacy.ra else None

    def get_deadline_text(self, issue: Issue) -> str:
        return deadline_text(issue)


class CaseEventSerializer(serializers.ModelSerializer[CaseEvent]):
    kind = serializers.ChoiceField(choices=CaseEventKind.choices, read_only=True)
    actor = serializers.CharField(source="actor.full_name", read_only=True)
    issue = serializers.SerializerMethodField(help_text="The issue it concerns, if any.")

    class Meta:
        model = CaseEvent
        fields = ("kind", "actor", "issue", "text", "created_at")
        read_only_fields = fields

    def get_issue(self, event: CaseEvent) -> str | None:
        return event.issue.reference if event.issue_id and event.issue else None


class CaseListSerializer(serializers.ModelSerializer[SystemicCase]):
    reference = serializers.CharField(read_only=True, help_text='The case\'s reference, like "CASE-00012".')
    status = serializers.ChoiceField(choices=CaseStatus.choices, read_only=True)
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    issue_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = SystemicCase
        fields: tuple[str, ...] = ("reference", "title", "status", "status_label", "issue_count", "created_at")
        read_only_fields = fields


class CaseDetailSerializer(CaseListSerializer):
    issues = serializers.SerializerMethodField()
    events = serializers.SerializerMethodField(help_text="The case's history, oldest first.")

    class Meta(CaseListSerializer.Meta):
        fields = (
            "reference",
            "title",
            "description",
            "status",
            "status_label",
            "created_at",
            "highlighted_at",
            "highlighted_to",
            "highlight_text",
            "guidance_received_at",
            "guidance_text",
            "closed_at",
            "closing_note",
            "issues",
            "events",
        )
        read_only_fields = fields

    @extend_schema_field(CaseIssueSerializer(many=True))
    def get_issues(self, case: SystemicCase) -> Any:
        return CaseIssueSerializer(case_selectors.case_issues(case=case), many=True).data

    @extend_schema_field(CaseEventSerializer(many=True))
    def get_events(self, case: SystemicCase) -> Any:
        return CaseEventSerializer(case_selectors.case_events(case=case), many=True).data


class CaseSuggestionSerializer(serializers.Serializer[Any]):
    ra = serializers.CharField(source="ra_name", read_only=True, help_text="The RA, by name.")
    kind = serializers.ChoiceField(choices=Kind.choices, read_only=True)
    kind_label = serializers.CharField(read_only=True)
    pharmacies = serializers.IntegerField(read_only=True, help_text="How many distinct pharmacies.")
    oldest = serializers.DateTimeField(read_only=True, help_text="When the oldest of its issues was reported.")
    newest = serializers.DateTimeField(read_only=True, help_text="When the newest of its issues was reported.")
    title = serializers.CharField(read_only=True, help_text="A title for the case it would become.")
    issues = serializers.ListField(
        source="references", child=serializers.CharField(), read_only=True, help_text="Its issues' references."
    )
    as_at = serializers.DateTimeField(
        read_only=True,
        help_text=(
            "When the groups were worked out (the worker does it every few minutes); issues grouped into a "
            "case or closed since are already left out."
        ),
    )


# Input: read as sent, validated by the services ----------------------------------------------


def _text(help_text: str) -> serializers.CharField:
    return serializers.CharField(
        required=False, allow_blank=True, default="", trim_whitespace=False, help_text=help_text
    )


class CaseCreateSerializer(serializers.Serializer[Any]):
    title = _text("What the issues have in common.")
    description = _text("What is known of the cause.")
    issues = serializers.ListField(child=serializers.CharField(), help_text='Issue references, like ["SC-000123"].')


class CaseEditSerializer(serializers.Serializer[Any]):
    title = _text("The new title.")
    description = _text("The new description.")


class CaseAddIssuesSerializer(serializers.Serializer[Any]):
    issues = serializers.ListField(child=serializers.CharField(), help_text="Issue references to add.")


class CaseRemoveIssueSerializer(serializers.Serializer[Any]):
    issue = serializers.CharField(help_text="The reference of the issue to take out.")


class CaseHighlightSerializer(serializers.Serializer[Any]):
    highlighted_at = serializers.DateTimeField(help_text="When the highlight was sent to NHS England's TD.")
    to = _text("Who it was sent to.")
    text = _text("What was sent.")


class CaseGuidanceSerializer(serializers.Serializer[Any]):
    received_at = serializers.DateTimeField(help_text="When the guidance came.")
    text = _text("The guidance.")


class CaseCloseSerializer(serializers.Serializer[Any]):
    note = _text("The outcome, in words for pharmacy teams (the notice quotes it).")
    notify = serializers.BooleanField(default=False, help_text="Tell each issue's pharmacy and LPC through email.")


class CaseListQuerySerializer(serializers.Serializer[Any]):
    status = serializers.ChoiceField(
        choices=[("active", "Not closed"), *CaseStatus.choices], required=False, help_text="Only cases in this status."
    )


# The view set ---------------------------------------------------------------------------------

CASE_REFERENCE_REGEX = "[Cc][Aa][Ss][Ee]-[0-9]+"
REFERENCE = OpenApiParameter(
    "reference",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    description='The case\'s reference, like "CASE-00012".',
    pattern=f"^{CASE_REFERENCE_REGEX}$",
)
NOT_FOUND = OpenApiResponse(
    ErrorSerializer, description="No such case, or you are not in the CPE IT team (cases are theirs alone)."
)
CASE_CONFLICT = OpenApiResponse(
    ErrorSerializer,
    description="Not possible in the case's current status (a closed case is final), or someone else changed it first.",
)


def _case_operation(summary: str, request: Any, description: str = "") -> Any:
    return extend_schema(
        summary=summary,
        description=description,
        parameters=[REFERENCE],
        request=request,
        responses={
            200: CaseDetailSerializer,
            400: FIELD_ERRORS,
            401: UNAUTHENTICATED,
            404: NOT_FOUND,
            409: CASE_CONFLICT,
        },
    )


@extend_schema_view(
    list=extend_schema(
        summary="List systemic cases (CPE IT)",
        parameters=[CaseListQuerySerializer],
        responses={200: CaseListSerializer(many=True), 400: FIELD_ERRORS, 401: UNAUTHENTICATED, 404: NOT_FOUND},
    ),
    create=extend_schema(
        summary="Open a systemic case holding these issues (CPE IT)",
        description="Each issue must be one you can see and not already in a case; the 400 names each one that is not.",
        request=CaseCreateSerializer,
        responses={201: CaseDetailSerializer, 400: FIELD_ERRORS, 401: UNAUTHENTICATED, 404: NOT_FOUND},
    ),
    retrieve=extend_schema(
        summary="One systemic case, with its issues and history (CPE IT)",
        parameters=[REFERENCE],
        responses={200: CaseDetailSerializer, 401: UNAUTHENTICATED, 404: NOT_FOUND},
    ),
)
class CaseViewSet(viewsets.GenericViewSet[SystemicCase]):
    authentication_classes = API_AUTHENTICATION
    permission_classes = [IsAuthenticated]
    pagination_class = IssuePagination
    lookup_field = "reference"
    lookup_value_regex = CASE_REFERENCE_REGEX
    serializer_class = CaseDetailSerializer

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if not case_selectors.may_see_cases(request.user):
            raise exceptions.NotFound("No such page.")

    def handle_exception(self, exc: Exception) -> Response:
        return super().handle_exception(api_exception_for(exc))

    def get_queryset(self) -> Any:
        return case_selectors.case_list(user=self.request.user)

    def get_object(self) -> SystemicCase:
        return case_selectors.case_get_visible(user=self.request.user, reference=self.kwargs["reference"])

    def _detail(self, case: SystemicCase, *, status_code: int = status.HTTP_200_OK) -> Response:
        case = case_selectors.case_get_visible(user=self.request.user, reference=case.pk)
        return Response(CaseDetailSerializer(case, context=self.get_serializer_context()).data, status=status_code)

    def _read(self, serializer_class: type[serializers.Serializer[Any]]) -> dict[str, Any]:
        serializer = serializer_class(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def list(self, request: Request) -> Response:
        query = CaseListQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        cases = case_selectors.case_list(user=request.user, status=query.validated_data.get("status"))
        page = self.paginate_queryset(cases)
        assert page is not None
        return self.get_paginated_response(CaseListSerializer(page, many=True).data)

    def create(self, request: Request) -> Response:
        case = services.case_create(user=request.user, **self._read(CaseCreateSerializer))  # type: ignore[arg-type]
        return self._detail(case, status_code=status.HTTP_201_CREATED)

    def retrieve(self, request: Request, reference: str) -> Response:
        return self._detail(self.get_object())

    @_case_operation("Change the title and description", CaseEditSerializer)
    @action(detail=True, methods=["post"])
    def edit(self, request: Request, reference: str) -> Response:
        return self._change(services.case_edit, CaseEditSerializer)

    @_case_operation("Add issues to the case", CaseAddIssuesSerializer)
    @action(detail=True, methods=["post"], url_path="issues")
    def add_issues(self, request: Request, reference: str) -> Response:
        return self._change(services.case_add_issues, CaseAddIssuesSerializer)

    @_case_operation("Take an issue out of the case", CaseRemoveIssueSerializer)
    @action(detail=True, methods=["post"], url_path="remove-issue")
    def remove_issue(self, request: Request, reference: str) -> Response:
        return self._change(services.case_remove_issue, CaseRemoveIssueSerializer)

    @_case_operation(
        "Record the highlight to NHS England's Transformation Directorate",
        CaseHighlightSerializer,
        "When, to whom, what was sent. From open (or highlighted: a second highlight replaces the first).",
    )
    @action(detail=True, methods=["post"])
    def highlight(self, request: Request, reference: str) -> Response:
        return self._change(services.case_record_highlight, CaseHighlightSerializer)

    @_case_operation("Record the guidance that came back", CaseGuidanceSerializer, "Once the case is highlighted.")
    @action(detail=True, methods=["post"])
    def guidance(self, request: Request, reference: str) -> Response:
        return self._change(services.case_record_guidance, CaseGuidanceSerializer)

    @_case_operation(
        "Close the case (final)",
        CaseCloseSerializer,
        "With notify, each issue's pharmacy and LPC are told by email, on the issue's thread.",
    )
    @action(detail=True, methods=["post"])
    def close(self, request: Request, reference: str) -> Response:
        return self._change(services.case_close, CaseCloseSerializer)

    def _change(self, service: Any, serializer_class: type[serializers.Serializer[Any]]) -> Response:
        case = self.get_object()
        service(user=self.request.user, case=case, **self._read(serializer_class))
        return self._detail(case)

    @extend_schema(
        summary="Suggested groups of issues (CPE IT)",
        description=(
            "Open issues not yet in a case, with the same RA and kind of problem, from at least "
            "CASE_SUGGESTION_MIN_PHARMACIES pharmacies, reported in the last CASE_SUGGESTION_WITHIN_DAYS days. "
            "Open a case from one by POSTing its issues to /api/v1/cases/."
        ),
        responses={200: CaseSuggestionSerializer(many=True), 401: UNAUTHENTICATED, 404: NOT_FOUND},
    )
    @action(detail=False, methods=["get"], pagination_class=None)
    def suggestions(self, request: Request) -> Response:
        return Response(CaseSuggestionSerializer(case_selectors.case_suggestions(user=request.user), many=True).data)

    @extend_schema(
        summary="The case's evidence pack (.zip)",
        description=(
            "summary.html (the case and each issue with its timeline) and every email in and out of its "
            "issues as .eml files."
        ),
        parameters=[REFERENCE],
        responses={
            (200, "application/zip"): OpenApiTypes.BINARY,
            401: UNAUTHENTICATED,
            404: NOT_FOUND,
        },
    )
    @action(detail=True, methods=["get"], url_path="evidence-pack")
    def evidence_pack(self, request: Request, reference: str) -> FileResponse:
        case = self.get_object()
        evidence = case_selectors.case_evidence(user=request.user, case=case)
        return evidence_pack_response(evidence)
