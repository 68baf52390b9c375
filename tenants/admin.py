from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from tenants.models import ApiKey, Invitation, Membership, Tenant, User
from tenants.services import api_key_revoke, tenant_kpis_rebuild_enqueue


class MembershipInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]
    fields = ["user", "role", "created_at"]
    readonly_fields = ["created_at"]


@admin.register(User)
class UserAdmin(DjangoUserAdmin):  # type: ignore[type-arg]
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "is_staff", "is_active", "last_login"]
    list_filter = ["is_staff", "is_superuser", "is_active"]
    search_fields = ["email", "first_name", "last_name"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "slug", "time_zone", "default_currency", "is_active", "created_at"]
    list_filter = ["is_active", "default_currency"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]

    def save_model(self, request: HttpRequest, obj: Tenant, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if change and "time_zone" in form.changed_data:
            tenant_kpis_rebuild_enqueue()  # the same prompt rebuild as the settings page


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["user", "tenant", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__email", "tenant__name", "tenant__slug"]
    list_select_related = ["user", "tenant"]
    autocomplete_fields = ["user", "tenant"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "prefix", "tenant", "status", "expires_at", "last_used_at", "created_at"]
    list_filter = ["status"]
    search_fields = ["name", "lookup_id", "tenant__name", "tenant__slug"]
    list_select_related = ["tenant"]
    readonly_fields = [
        "prefix", "tenant", "status", "expires_at", "last_used_at", "rotated_at", "replaced_by", "revoked_at",
        "expiry_notice_sent_at", "created_by", "created_at",
    ]  # fmt: skip
    fields = ["name", *readonly_fields]
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # keys are issued through the API or create_tenant, where the secret can be shown once

    @admin.action(description="Revoke selected keys now")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for api_key in queryset:
            api_key_revoke(api_key=api_key)
        self.message_user(request, f"Revoked {queryset.count()} key(s).", messages.SUCCESS)


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["email", "tenant", "role", "status", "expires_at", "invited_by", "accepted_at", "created_at"]
    list_filter = ["status", "role"]
    search_fields = ["email", "tenant__name", "tenant__slug"]
    list_select_related = ["tenant", "invited_by"]
    readonly_fields = [
        "tenant", "email", "role", "status", "expires_at", "sent_at", "invited_by", "accepted_at", "accepted_by",
        "cancelled_at", "created_at",
    ]  # fmt: skip
    fields = [*readonly_fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # invitations are sent from the Team page, where the link's token is e-mailed once
