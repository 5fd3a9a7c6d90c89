"""The JSON API (/api/v1/): the same issues, scope and services as the pages.

Every read goes through `issues.selectors` (so an issue outside the user's scope answers 404) and
every write through `issues.services`. The services' exceptions become status codes here:

| raised by the service | status |
|---|---|
| django ValidationError (field errors) | 400 `{field: [messages]}` |
| IssueActionForbidden | 403 `{"detail": message}` |
| TransitionNotAllowedNow, IssueChangedConcurrently | 409 `{"detail": message}` |

Token authentication is tried before the session, so a request without credentials answers 401
with `WWW-Authenticate: Token` rather than 403.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import StreamingHttpResponse
from django.urls import reverse
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
)
from drf_spectacular.views import SpectacularAPIView
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.decorators import action
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView

from issues import exports, route, services
from issues.api.serializers import (
    FIELD_ERRORS_SCHEMA,
    TRANSITION_SERIALIZERS,
    ErrorSerializer,
    IssueCreateSerializer,
    IssueDetailSerializer,
    IssueEventSerializer,
    IssueListSerializer,
    LpcDashboardSerializer,
    LpcWorkSerializer,
    NoteSerializer,
    PhoneCallSerializer,
    RaReplySerializer,
    RaRequestQuerySerializer,
    RaRequestSerializer,
    TransitionSerializer,
    TriageSerializer,
)
from issues.exceptions import IssueActionForbidden, IssueChangedConcurrently, TransitionNotAllowedNow
from issues.filters import IssueFilter
from issues.models import Issue, IssueEvent
from issues.selectors import (
    issue_events,
    issue_get_visible,
    issue_list,
    issue_ra_request_preview,
)
from issues.selectors import lpc as lpc_selectors
from smartcard_route.pagination import EitherEndPaginator


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "This action conflicts with the issue's current state."
    default_code = "conflict"


def api_exception_for(error: Exception) -> Exception:
    """The REST framework exception that answers a service-layer exception (others pass through)."""
    if isinstance(error, IssueActionForbidden):
        return exceptions.PermissionDenied(error.message)
    if isinstance(error, TransitionNotAllowedNow | IssueChangedConcurrently):
        return Conflict(error.message, code=type(error).__name__)
    if isinstance(error, DjangoValidationError):
        return exceptions.ValidationError(serializers.as_serializer_error(error))
    return error


# Token first: DRF answers an unauthenticated request with the first class's challenge, so 401.
API_AUTHENTICATION = [TokenAuthentication, SessionAuthentication]


class IssueFilterBackend(DjangoFilterBackend):
    """issues.filters.IssueFilter over its own scope (the request's user): the view's queryset is
    not handed to it, so the scope's conditions are not applied twice."""

    def get_filterset_kwargs(self, request: Any, queryset: Any, view: Any) -> dict[str, Any]:
        return {"data": request.query_params, "request": request}


class CsvRenderer(BaseRenderer):
    """Lets a client that asks for text/csv reach the export; the CSV itself is streamed by the view,
    so only an error answer (400, 401) is rendered here, as JSON text."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        return b"" if data is None else json.dumps(data).encode()


class IssuePagination(PageNumberPagination):
    """Pages of 50 (`page_size` up to 200; more is capped). A page number or size that is not a
    positive whole number answers 400 with the field's error, as the schema's `minimum: 1` says,
    rather than being ignored."""

    django_paginator_class = EitherEndPaginator
    page_size_query_param = "page_size"
    max_page_size = 200

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> Any:
        errors = {
            name: ["Enter a whole number, 1 or more."]
            for name in (self.page_query_param, self.page_size_query_param)
            if name in request.query_params
            and not _positive_int(request.query_params[name])
            and request.query_params[name] not in self.last_page_strings
        }
        if errors:
            raise exceptions.ValidationError(errors)
        return super().paginate_queryset(queryset, request, view)

    def get_paginated_response(self, data: Any) -> Response:
        assert self.page is not None
        paginator = self.page.paginator
        return Response(
            {
                "count": paginator.count,
                "count_capped": isinstance(paginator, EitherEndPaginator) and paginator.beyond_limit,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema: Any) -> dict[str, Any]:
        described = super().get_paginated_response_schema(schema)
        limit = f"{settings.LIST_COUNT_LIMIT:,}"
        properties = described["properties"]
        properties["count"]["description"] = f"How many issues match, counted up to {limit}."
        described["properties"] = {
            "count": properties["count"],
            "count_capped": {
                "type": "boolean",
                "description": (
                    f"True when more than {limit} issues match: the count and the pages stop at the newest "
                    f"{limit}. Narrow the filters, or read the CSV export, which has every one."
                ),
            },
            **{name: value for name, value in properties.items() if name != "count"},
        }
        described["required"] = ["count", "count_capped", "results"]
        return described

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"] = {**parameter["schema"], "minimum": 1}
        return parameters


def _positive_int(value: str) -> bool:
    return value.isascii() and value.isdigit() and int(value) >= 1


# Responses shared by the schema of several operations.
UNAUTHENTICATED = OpenApiResponse(ErrorSerializer, description="No or invalid credentials.")
NOT_FOUND = OpenApiResponse(ErrorSerializer, description="No such issue, or it is outside your scope.")
FIELD_ERRORS = OpenApiResponse(FIELD_ERRORS_SCHEMA, description="Field errors: nothing was saved.")
FORBIDDEN = OpenApiResponse(ErrorSerializer, description="Your role does not allow this on this issue.")
CONFLICT = OpenApiResponse(
    ErrorSerializer,
    description=(
        "Not possible in the issue's current state (or a guard failed, e.g. no RA in the directory), "
        "or someone else changed the issue first. Nothing was saved; reload the issue and try again."
    ),
    examples=[
        OpenApiExample(
            "Changed by someone else",
            value={"detail": "This issue was changed by someone else. Check the latest details and try again."},
        )
    ],
)
REFERENCE = OpenApiParameter(
    "reference", OpenApiTypes.STR, OpenApiParameter.PATH, description='The issue\'s reference, like "SC-000123".'
)

TRANSITION_REQUEST = PolymorphicProxySerializer(
    component_name="TransitionRequest",
    serializers=dict(TRANSITION_SERIALIZERS),
    resource_type_field_name="transition",
)


def _transitions_description() -> str:
    """The transitions endpoint's description: the route table's transitions, one line each."""
    rows = [
        f"| `{row.name}` | {', '.join(row.sources)} | {', '.join(row.targets)} | {row.who.name} | "
        f"{', '.join(f'`{name}`' for name in row.field_names)} |"
        for row in route.TRANSITION_ROWS
    ]
    return "\n".join(
        [
            'Run one transition of the route by name ("transition") with its fields. allowed_transitions '
            "in the issue lists those you may start now.",
            "",
            "| transition | from | to | who | fields |",
            "|---|---|---|---|---|",
            *rows,
        ]
    )


def _event_operation(action: route.Work, request_serializer: type[BaseSerializer[Any]]) -> Any:
    return extend_schema(
        summary=action.label.title,
        description=action.summary(),
        parameters=[REFERENCE],
        request=request_serializer,
        responses={
            201: IssueEventSerializer,
            400: FIELD_ERRORS,
            401: UNAUTHENTICATED,
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: CONFLICT,
        },
    )


@extend_schema_view(
    list=extend_schema(
        summary="List the issues you can see",
        description=(
            "Newest first, paginated. Filters combine, and only narrow the issues you may see; "
            "a nonsense value answers 400 with the field's errors."
        ),
        responses={200: IssueListSerializer(many=True), 400: FIELD_ERRORS, 401: UNAUTHENTICATED},
    ),
    create=extend_schema(
        summary="Report a Smartcard problem",
        request=IssueCreateSerializer,
        responses={
            201: IssueDetailSerializer,
            400: FIELD_ERRORS,
            401: UNAUTHENTICATED,
            403: FORBIDDEN,
        },
    ),
    retrieve=extend_schema(
        summary="One issue, with its timeline and the transitions you may start",
        parameters=[REFERENCE],
        responses={200: IssueDetailSerializer, 401: UNAUTHENTICATED, 404: NOT_FOUND},
    ),
)
class IssueViewSet(viewsets.GenericViewSet[Issue]):
    authentication_classes = API_AUTHENTICATION
    permission_classes = [IsAuthenticated]
    pagination_class = IssuePagination
    filter_backends = [IssueFilterBackend]
    filterset_class = IssueFilter
    lookup_field = "reference"
    lookup_value_regex = "[^/]+"
    serializer_class = IssueDetailSerializer

    def get_queryset(self) -> Any:
        return issue_list(user=self.request.user)

    def get_object(self) -> Issue:
        return issue_get_visible(user=self.request.user, reference=self.kwargs["reference"])

    def get_serializer_class(self) -> type[BaseSerializer[Any]]:
        by_action: dict[str, type[BaseSerializer[Any]]] = {
            "list": IssueListSerializer,
            "create": IssueCreateSerializer,
            "transitions": TransitionSerializer,
            "notes": NoteSerializer,
            "phone_calls": PhoneCallSerializer,
            "ra_replies": RaReplySerializer,
            "lpc_work": LpcWorkSerializer,
            "ra_request": RaRequestSerializer,
            "triage": TriageSerializer,
        }
        return by_action.get(self.action, IssueDetailSerializer)

    def handle_exception(self, exc: Exception) -> Response:
        return super().handle_exception(api_exception_for(exc))

    def _detail(self, issue: Issue, *, status_code: int = status.HTTP_200_OK) -> Response:
        context = {**self.get_serializer_context(), "events": issue_events(issue=issue)}
        return Response(IssueDetailSerializer(issue, context=context).data, status=status_code)

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        assert page is not None
        return self.get_paginated_response(
            IssueListSerializer(page, many=True, context=self.get_serializer_context()).data
        )

    @extend_schema(
        summary="The list as a CSV file",
        description=(
            "The issues the list answers with the same filters (every page of it), as a CSV file "
            "(issues.exports): streamed, UTF-8 with a byte order mark, times in ISO 8601, every cell "
            "that starts with = + - @, a tab or a carriage return prefixed with a single quote."
        ),
        filters=True,
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The CSV file."),
            400: FIELD_ERRORS,
            401: UNAUTHENTICATED,
        },
    )
    @action(detail=False, methods=["get"], renderer_classes=[JSONRenderer, CsvRenderer])
    def export(self, request: Request) -> StreamingHttpResponse:
        issues = self.filter_queryset(self.get_queryset())
        response = StreamingHttpResponse(exports.issue_csv_pieces(issues), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="issues.csv"'
        response["Cache-Control"] = "no-store"
        return response

    def create(self, request: Request) -> Response:
        serializer = IssueCreateSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        issue = services.issue_report(user=request.user, **serializer.validated_data)  # type: ignore[arg-type]
        response = self._detail(issue, status_code=status.HTTP_201_CREATED)
        response["Location"] = reverse("api:issue-detail", kwargs={"reference": issue.reference})
        return response

    def retrieve(self, request: Request, reference: str) -> Response:
        return self._detail(self.get_object())

    @extend_schema(
        summary="Move the issue along the route",
        description=_transitions_description(),
        parameters=[REFERENCE],
        request=TRANSITION_REQUEST,
        responses={
            200: IssueDetailSerializer,
            400: FIELD_ERRORS,
            401: UNAUTHENTICATED,
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: CONFLICT,
        },
    )
    @action(detail=True, methods=["post"])
    def transitions(self, request: Request, reference: str) -> Response:
        issue = self.get_object()
        name = request.data.get("transition") if hasattr(request.data, "get") else None
        serializer_class = (
            TRANSITION_SERIALIZERS.get(name, TransitionSerializer) if isinstance(name, str) else TransitionSerializer
        )
        serializer = serializer_class(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        service = services.ACTION_SERVICES[fields.pop("transition")]
        return self._detail(service(user=request.user, issue=issue, **fields))

    @extend_schema(
        summary="The prepared request to the RA",
        description=(
            'The email the contact_ra transition sends (send_via "app"), for sending it from your own '
            'mailbox instead: then run contact_ra with send_via "own_mail".'
        ),
        parameters=[REFERENCE, RaRequestQuerySerializer],
        responses={200: RaRequestSerializer, 400: FIELD_ERRORS, 401: UNAUTHENTICATED, 404: NOT_FOUND},
    )
    @action(detail=True, methods=["get"], url_path="ra-request")
    def ra_request(self, request: Request, reference: str) -> Response:
        issue = self.get_object()
        query = RaRequestQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        preview = issue_ra_request_preview(issue=issue, question=query.validated_data.get("question", ""))
        return Response(RaRequestSerializer(preview).data)

    @_event_operation(route.NOTE, NoteSerializer)
    @action(detail=True, methods=["post"])
    def notes(self, request: Request, reference: str) -> Response:
        return self._log_event(request, NoteSerializer, services.issue_add_note)

    @_event_operation(route.PHONE_CALL, PhoneCallSerializer)
    @action(detail=True, methods=["post"], url_path="phone-calls")
    def phone_calls(self, request: Request, reference: str) -> Response:
        return self._log_event(request, PhoneCallSerializer, services.issue_log_phone_call)

    @_event_operation(route.RA_REPLY, RaReplySerializer)
    @action(detail=True, methods=["post"], url_path="ra-replies")
    def ra_replies(self, request: Request, reference: str) -> Response:
        return self._log_event(request, RaReplySerializer, services.issue_log_ra_reply)

    @_event_operation(route.LPC_WORK, LpcWorkSerializer)
    @action(detail=True, methods=["post"], url_path="lpc-work")
    def lpc_work(self, request: Request, reference: str) -> Response:
        return self._log_event(request, LpcWorkSerializer, services.issue_log_lpc_work)

    @_event_operation(route.TRIAGE, TriageSerializer)
    @action(detail=True, methods=["post"])
    def triage(self, request: Request, reference: str) -> Response:
        return self._log_event(request, TriageSerializer, services.issue_triage)

    def _log_event(self, request: Request, serializer_class: type[BaseSerializer[Any]], service: Any) -> Response:
        issue = self.get_object()
        serializer = serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        event: IssueEvent = service(user=request.user, issue=issue, **serializer.validated_data)
        return Response(IssueEventSerializer(event).data, status=status.HTTP_201_CREATED)


class LpcDashboardView(APIView):
    """The LPC officer's dashboard: what waits on the LPC, its other open issues, the area's counts."""

    authentication_classes = API_AUTHENTICATION
    permission_classes = [IsAuthenticated]

    @extend_schema(
        summary="Your LPC dashboard",
        description=(
            "What waits on your LPC (overdue first, then by deadline) and its other open issues, at most 50 "
            "each; and the counts of every issue of your LPCs' area (by state, and open issues per RA, per "
            "kind of problem and by working days in their current state), each saying how many of them your "
            "LPC is involved in. LPC officers only."
        ),
        responses={200: LpcDashboardSerializer, 401: UNAUTHENTICATED, 403: FORBIDDEN},
    )
    def get(self, request: Request) -> Response:
        lpcs = lpc_selectors.lpcs_of_officer(user=request.user)
        if not lpcs:
            raise exceptions.PermissionDenied("Only LPC officers have an LPC dashboard.")
        board = lpc_selectors.lpc_dashboard(user=request.user, lpcs=lpcs)  # type: ignore[arg-type]
        return Response(LpcDashboardSerializer(board, context={"request": request}).data)


# The OpenAPI schema, for logged-in users and tokens like the API itself.
api_schema = SpectacularAPIView.as_view(authentication_classes=API_AUTHENTICATION, permission_classes=[IsAuthenticated])
