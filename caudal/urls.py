from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "Caudal — administración"
admin.site.site_title = "Caudal"
admin.site.index_title = "Configuración"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("caudal.web.urls")),
]
