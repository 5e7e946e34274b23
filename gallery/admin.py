from django.contrib import admin

from . import selectors
from .models import Generation, Image, UserLimits


@admin.register(Generation)
class GenerationAdmin(admin.ModelAdmin):
    list_display = (
        "prompt",
        "owner",
        "model",
        "n",
        "size",
        "status",
        "input_tokens",
        "output_tokens",
        "total_tokens",
        "created_at",
    )
    list_filter = ("status", "model", "kind")
    # Usage per person above the list: the tokens each one's answers reported.
    change_list_template = "admin/gallery/generation/change_list.html"

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "usage_by_user": selectors.usage_by_user()}
        return super().changelist_view(request, extra_context=extra_context)

    search_fields = ("prompt",)
    readonly_fields = ("id", "created_at", "started_at", "finished_at", "attempts")


@admin.register(Image)
class ImageAdmin(admin.ModelAdmin):
    list_display = ("prompt", "owner", "model", "width", "height", "format", "created_at")
    list_filter = ("model", "format")
    search_fields = ("prompt", "content_hash")
    readonly_fields = ("id", "content_hash", "file_size", "width", "height", "created_at")


@admin.register(UserLimits)
class UserLimitsAdmin(admin.ModelAdmin):
    """Per-person limits where they differ from the site's: empty fields take the site's."""

    list_display = ("user", "max_running", "images_per_day", "max_bytes", "monthly_budget")
    search_fields = ("user__username",)
    raw_id_fields = ("user",)
