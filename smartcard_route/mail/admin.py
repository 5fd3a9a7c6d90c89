"""The Django admin for the mail layer: a window on the rows, never a second way to write them."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from smartcard_route.mail import services, webhooks
from smartcard_route.mail.models import InboundEmail, InboundPost, OutboundEmail


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


@admin.register(InboundPost)
class InboundPostAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "esp", "status", "error")
    list_filter = ("status", "esp")
    exclude = ("body",)  # a download for CPE IT on the unmatched-mail page; here, its size
    readonly_fields = ("size",)
    actions = ["read_again"]

    @admin.display(description="size (bytes)")
    def size(self, post: InboundPost) -> int:
        return len(post.body)

    @admin.action(description="Read the selected posts again (once what stopped them is fixed)")
    def read_again(self, request: HttpRequest, queryset: QuerySet[InboundPost]) -> None:
        readers = webhooks.readers()
        results = [
            services.inbound_post_process(post=post, reader=readers[post.esp], again=True)
            for post in queryset.exclude(status=InboundPost.Status.READ)
            if post.esp in readers
        ]
        read = sum(result.outcome is services.PostOutcome.READ for result in results)
        self.message_user(
            request, f"{read} of {len(results)} post(s) read; posts already read, or being read, are left alone."
        )


@admin.register(InboundEmail)
class InboundEmailAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "from_email", "subject", "esp_name", "handed_over_at")
    search_fields = ("subject", "message_id", "from_email")
    exclude = ("post",)
