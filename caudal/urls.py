from django.contrib import admin
from django.urls import include, path

from caudal.api.main import urls as api_urls

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", api_urls()),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("caudal.web.urls")),
]
