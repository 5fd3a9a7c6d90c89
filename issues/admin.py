"""The Django admin for issues: a window on the data, never a second way to change it.

The state, the clock and the timeline are read-only; events cannot be added, changed or deleted
here (a note, a call or the RA's reply is logged on the issue page or through the API, whose
services keep the route's rules); actions call the service layer with the admin user as the
actor, so its checks apply.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from issues import services
from issues.exceptions import IssueServiceError
from issues.models import Issue, IssueEvent, Step


class IssueEventInline(admin.TabularInline):
    model = IssueEvent
    extra = 0
    can_delete = False
    fields = ("created_at", "kind", "actor", "from_state", "to_state", "text")
    readonly_fields = fields
    ordering = ("created_at", "id")
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Issue)
class IssueAdmin(admin.ModelAdmin):
    list_display = ("reference", "summary", "pharmacy", "kind", "state", "due_at", "created_at")
    list_filter = ("state", "kind", "is_emergency", "due_kind")
    search_fields = ("summary", "pharmacy__ods_code", "pharmacy__name", "reporter__email")
    list_select_related = ("pharmacy",)
    raw_id_fields = ("pharmacy", "reporter")
    date_hierarchy = "created_at"
    inlines = [IssueEventInline]
    actions = ["resolve_as_cpe_it"]
    readonly_fields = (
        "reference",
        "pharmacy",
        "reporter",
        "state",
        "due_at",
        "due_kind",
        "reminders_sent",
        "lpc_involved_at",
        "resolved_from_state",
        "resolution_note",
        "fixed_by_step",
        "resolved_at",
        "withdrawn_reason",
        "tracking_token",
        "created_at",
        "updated_at",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # issues are reported through issues.services.issue_report

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # every change goes through issues.services (see the actions)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the audit trail is kept

    @admin.display(description="Reference", ordering="pk")
    def reference(self, obj: Issue) -> str:
        return obj.reference

    @admin.action(description="Resolve the selected issues (fixed by the CPE IT team)")
    def resolve_as_cpe_it(self, request: HttpRequest, queryset: QuerySet[Issue]) -> None:
        done = 0
        for issue in queryset:
            try:
                services.issue_resolve(
                    user=request.user,  # type: ignore[arg-type]
                    issue=issue,
                    fixed_by_step=Step.CPE_IT,
                    note="Resolved by the CPE IT team in the admin.",
                )
            except (IssueServiceError, ValidationError) as error:
                message = getattr(error, "message", None) or "; ".join(getattr(error, "messages", []))
                self.message_user(request, f"{issue.reference}: {message}", messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(request, f"{done} issue(s) resolved.", messages.SUCCESS)


@admin.register(IssueEvent)
class IssueEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "issue", "kind", "actor", "from_state", "to_state")
    list_filter = ("kind",)
    list_select_related = ("issue", "actor")
    search_fields = ("text",)
    raw_id_fields = ("issue", "actor")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
