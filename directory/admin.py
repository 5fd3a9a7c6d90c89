"""Django admin for the directory: the superuser's tool (people, memberships, repairs).

The directory manager edits the directory on their own pages (directory.manage_views), not here:
the admin is open to superusers only, whatever `is_staff` says (`superusers_only` below)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.db import models
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from directory.models import LPC, CorrectionReport, Pharmacy, PharmacyOwner, RegistrationAuthority, User
from directory.services import correction_report_mark_done
from directory.validators import normalise_ods_code, normalise_phone, normalise_postcode


def superusers_only(request: HttpRequest) -> bool:
    """admin.site.has_permission: an active superuser; `is_staff` alone is no longer enough."""
    user = request.user
    return bool(user.is_active and user.is_superuser)


admin.site.has_permission = superusers_only  # type: ignore[method-assign]


class UserCreationForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "full_name")


class UserEditForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserEditForm
    add_form = UserCreationForm
    ordering = ("full_name", "email")
    list_display = ("email", "full_name", "is_active", "is_cpe_it", "is_directory_manager", "is_staff")
    list_filter = ("is_active", "is_cpe_it", "is_directory_manager", "is_staff", "is_superuser")
    search_fields = ("email", "full_name")
    readonly_fields = ("last_login", "date_joined")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Person", {"fields": ("full_name", "phone")}),
        ("Roles", {"fields": ("is_active", "is_cpe_it", "is_directory_manager")}),
        (
            "Django admin",
            {"classes": ("collapse",), "fields": ("is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("email", "full_name", "usable_password", "password1", "password2")}),
    )


# Addresses typed without a scheme are taken as https:// (Django 6's default, asked for now).
URL_HTTPS: dict[type[models.Field[Any, Any]], dict[str, Any]] = {models.URLField: {"assume_scheme": "https"}}


class _TidyContactForm(forms.ModelForm):
    """Phone numbers (and postcodes, ODS codes) tidied the same way as the CSV import does.

    No Meta: the admin builds the form for its model and fieldsets on top of this class."""

    def clean_phone(self) -> str:
        phone: str = self.cleaned_data.get("phone", "")
        return normalise_phone(phone) if phone else ""


@admin.register(RegistrationAuthority)
class RegistrationAuthorityAdmin(admin.ModelAdmin):
    form = _TidyContactForm
    formfield_overrides = URL_HTTPS
    list_display = ("name", "kind", "email", "phone", "active", "needs_checking", "last_verified", "pharmacy_count")
    list_filter = ("active", "needs_checking", "kind")
    search_fields = ("name", "email", "areas_covered")
    readonly_fields = ("updated_at",)
    fieldsets = (
        (None, {"fields": ("name", "kind", "active", "needs_checking")}),
        ("Contact", {"fields": ("email", "phone", "website", "postal_address")}),
        ("Coverage", {"fields": ("areas_covered",)}),
        ("Provenance", {"fields": ("last_verified", "source", "updated_at")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[RegistrationAuthority]:
        return super().get_queryset(request).annotate(pharmacy_count=Count("pharmacies"))

    @admin.display(description="pharmacies", ordering="pharmacy_count")
    def pharmacy_count(self, obj: Any) -> int:
        return int(obj.pharmacy_count)


@admin.register(LPC)
class LPCAdmin(admin.ModelAdmin):
    form = _TidyContactForm
    formfield_overrides = URL_HTTPS
    list_display = ("name", "email", "phone", "pharmacy_count")
    search_fields = ("name", "email", "area")
    autocomplete_fields = ("officers",)
    readonly_fields = ("updated_at",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[LPC]:
        return super().get_queryset(request).annotate(pharmacy_count=Count("pharmacies"))

    @admin.display(description="pharmacies", ordering="pharmacy_count")
    def pharmacy_count(self, obj: Any) -> int:
        return int(obj.pharmacy_count)


@admin.register(PharmacyOwner)
class PharmacyOwnerAdmin(admin.ModelAdmin):
    form = _TidyContactForm
    list_display = ("name", "email", "phone")
    search_fields = ("name", "email")
    autocomplete_fields = ("members",)


class PharmacyForm(_TidyContactForm):
    def clean_ods_code(self) -> str:
        return normalise_ods_code(self.cleaned_data.get("ods_code", ""))

    def clean_postcode(self) -> str:
        postcode: str = self.cleaned_data.get("postcode", "")
        return normalise_postcode(postcode) if postcode else ""


@admin.register(Pharmacy)
class PharmacyAdmin(admin.ModelAdmin):
    form = PharmacyForm
    list_display = ("ods_code", "name", "postcode", "owner", "ra", "lpc")
    list_select_related = ("owner", "ra", "lpc")
    list_filter = ("lpc", "ra")
    search_fields = ("ods_code", "name", "postcode", "owner__name")
    autocomplete_fields = ("owner", "ra", "lpc", "staff")
    readonly_fields = ("updated_at",)


@admin.register(CorrectionReport)
class CorrectionReportAdmin(admin.ModelAdmin):
    list_display = ("created_at", "target_name", "reporter", "status", "resolved_at")
    list_select_related = ("ra", "lpc", "pharmacy", "reporter")
    list_filter = ("status",)
    search_fields = ("details", "ra__name", "lpc__name", "pharmacy__name", "reporter__email", "reporter__full_name")
    autocomplete_fields = ("ra", "lpc", "pharmacy", "reporter", "resolved_by")
    readonly_fields = ("created_at", "email", "resolved_at", "resolved_by", "status")
    date_hierarchy = "created_at"
    actions = ("mark_done",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # reports are made on the RA, LPC and pharmacy pages, which also email the directory manager

    @admin.display(description="about")
    def target_name(self, obj: CorrectionReport) -> str:
        return obj.target.name

    @admin.action(description="Mark the selected reports done")
    def mark_done(self, request: HttpRequest, queryset: QuerySet[CorrectionReport]) -> None:
        user = request.user
        assert isinstance(user, User)
        if not user.is_directory_manager:
            self.message_user(request, "Only the directory manager handles correction reports.", messages.ERROR)
            return
        done = sum(correction_report_mark_done(user=user, report=report) for report in queryset)
        self.message_user(request, f"{done} report(s) marked done.", messages.SUCCESS)
