from django.contrib import admin, messages

from . import services
from .models import ApiKey, IssuedImage


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("prefix", "name", "owner", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("prefix", "name", "owner__username")
    readonly_fields = ("prefix", "created_at", "last_used_at")
    fields = (
        "owner",
        "name",
        "prefix",
        "keep_images",
        "monthly_budget",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
    actions = ("revoke",)

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        # A new key is made by the service, which shows the raw key this once.
        api_key, raw_key = services.apikey_create(
            owner=obj.owner,
            name=obj.name,
            keep_images=obj.keep_images,
            monthly_budget=obj.monthly_budget,
        )
        obj.pk, obj.prefix, obj.key_hash, obj.created_at = (
            api_key.pk,
            api_key.prefix,
            api_key.key_hash,
            api_key.created_at,
        )
        self.message_user(
            request, f"New API key (shown only now, copy it): {raw_key}", messages.WARNING
        )

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request, queryset):
        for api_key in queryset:
            services.apikey_revoke(api_key=api_key)


@admin.register(IssuedImage)
class IssuedImageAdmin(admin.ModelAdmin):
    list_display = ("id", "content_type", "created_at", "api_key")
    readonly_fields = ("id", "file", "content_type", "created_at", "api_key")
