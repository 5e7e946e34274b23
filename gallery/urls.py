from django.urls import path

from . import views

app_name = "gallery"

urlpatterns = [
    path("", views.home, name="home"),
    path("generate", views.generate, name="generate"),
    path("events", views.events, name="events"),
    path("generations/<uuid:generation_id>/", views.generation_detail, name="generation"),
    path(
        "generations/<uuid:generation_id>/status", views.generation_status, name="generation-status"
    ),
    path("generations/<uuid:generation_id>/retry", views.generation_retry, name="generation-retry"),
    path("images/<uuid:image_id>/", views.image_detail, name="image"),
    path("images/<uuid:image_id>/original", views.image_file, name="image-file"),
    path("images/<uuid:image_id>/thumbnail", views.image_thumbnail, name="image-thumbnail"),
    path("images/<uuid:image_id>/download", views.image_download, name="image-download"),
    path("images/<uuid:image_id>/tags", views.image_tag_add, name="image-tag-add"),
    path(
        "images/<uuid:image_id>/tags/<path:name>/remove",
        views.image_tag_remove,
        name="image-tag-remove",
    ),
    path("images/<uuid:image_id>/delete", views.image_delete, name="image-delete"),
    path("images/<uuid:image_id>/favourite", views.image_favourite, name="image-favourite"),
]
