from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("v1/", include("api.urls")),
    path("keys/", include("api.web_urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("", include("gallery.urls")),
]

# JSON on /v1/, pages elsewhere (see novisurf_site.errors).
handler400 = "novisurf_site.errors.bad_request"
handler403 = "novisurf_site.errors.permission_denied"
handler404 = "novisurf_site.errors.page_not_found"
handler500 = "novisurf_site.errors.server_error"
