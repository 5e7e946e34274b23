from django.contrib import admin

from .models import Generation, Image


@admin.register(Generation)
class GenerationAdmin(admin.ModelAdmin):
    list_display = ("prompt", "owner", "model", "n", "size", "status", "created_at")
    list_filter = ("status", "model")
    search_fields = ("prompt",)
    readonly_fields = ("id", "created_at", "started_at", "finished_at", "attempts")


@admin.register(Image)
class ImageAdmin(admin.ModelAdmin):
    list_display = ("prompt", "owner", "model", "width", "height", "format", "created_at")
    list_filter = ("model", "format")
    search_fields = ("prompt", "content_hash")
    readonly_fields = ("id", "content_hash", "file_size", "width", "height", "created_at")
