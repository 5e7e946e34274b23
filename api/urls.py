from django.urls import path, re_path

from . import views

app_name = "api"

urlpatterns = [
    path("images/generations", views.images_generations, name="images-generations"),
    path("images/edits", views.images_edits, name="images-edits"),
    path("models", views.models_list, name="models"),
    path("models/<str:model>", views.model_detail, name="model-detail"),
    path("files/<str:token>", views.issued_image, name="issued-image"),
    re_path(r"^(?P<path>.*)$", views.not_found),
]
