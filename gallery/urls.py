from django.urls import path

from . import views

app_name = "gallery"

urlpatterns = [
    path("", views.home, name="home"),
    path("generate", views.generate, name="generate"),
    path("events", views.events, name="events"),
    path("usage/", views.usage, name="usage"),
    path("usage/usage.csv", views.usage_csv, name="usage-csv"),
    path("generations/<uuid:generation_id>/", views.generation_detail, name="generation"),
    path(
        "generations/<uuid:generation_id>/status", views.generation_status, name="generation-status"
    ),
    path("generations/<uuid:generation_id>/retry", views.generation_retry, name="generation-retry"),
    path(
        "generations/<uuid:generation_id>/cancel",
        views.generation_cancel,
        name="generation-cancel",
    ),
    path("images/<uuid:image_id>/", views.image_detail, name="image"),
    path("compare", views.image_compare, name="compare"),
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
    path("images/<uuid:image_id>/edit", views.image_edit, name="image-edit"),
    path("images/<uuid:image_id>/favourite", views.image_favourite, name="image-favourite"),
    # Organise and take out: boards, selections, ZIP, trash, import.
    path("images/<uuid:image_id>/trash", views.image_trash, name="image-trash"),
    path("images/<uuid:image_id>/boards", views.image_boards, name="image-boards"),
    path("boards/", views.board_list, name="boards"),
    path("boards/<int:board_id>/", views.board_detail, name="board"),
    path("boards/<int:board_id>/rename", views.board_rename, name="board-rename"),
    path("boards/<int:board_id>/delete", views.board_delete, name="board-delete"),
    path("boards/<int:board_id>/cover", views.board_cover, name="board-cover"),
    path("boards/<int:board_id>/remove", views.board_remove_images, name="board-remove"),
    path("tags/", views.tag_list, name="tags"),
    path("tags/<int:tag_id>/rename", views.tag_rename, name="tag-rename"),
    path("tags/<int:tag_id>/delete", views.tag_delete, name="tag-delete"),
    path("selection", views.selection_act, name="selection"),
    path("download.zip", views.listing_zip, name="listing-zip"),
    path("bulk/<uuid:bulk_id>/", views.bulk_action_detail, name="bulk-action"),
    path("trash/", views.trash_list, name="trash"),
    path("trash/undo", views.trash_undo, name="trash-undo"),
    path("trash/restore", views.trash_restore, name="trash-restore"),
    path("trash/delete", views.trash_delete, name="trash-delete"),
    path("trash/empty", views.trash_empty, name="trash-empty"),
    path("import", views.image_upload, name="upload"),
]
