"""The Django admin for the mail layer: a window on the rows, never a second way to write them."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from smartcard_route.mail import services
from smartcard_route.mail.models import OutboundEmail


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(OutboundEmail)
class OutboundEmailAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "subject", "purpose", "status", "attempts", "sent_at")
    list_filter = ("status", "purpose")
    search_fields = ("subject", "message_id", "esp_message_id")
    actions = ["try_again"]

    @admin.action(description="Try sending the selected failed emails again")
    def try_again(self, request: HttpRequest, queryset: QuerySet[OutboundEmail]) -> None:
        requeued = sum(services.outbound_email_requeue(email_id=pk) for pk in queryset.values_list("pk", flat=True))
        self.message_user(request, f"{requeued} email(s) queued again; only failed emails are retried.")
