from django.urls import path

from . import web_views

app_name = "keys"

urlpatterns = [
    path("", web_views.key_list, name="list"),
    path("<int:key_id>/revoke", web_views.key_revoke, name="revoke"),
    path("<int:key_id>/settings", web_views.key_settings, name="settings"),
    path("<int:key_id>/models", web_views.key_models, name="models"),
]
