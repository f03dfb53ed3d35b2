from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("ingresar/", views.LoginView.as_view(), name="login"),
    path("salir/", auth_views.LogoutView.as_view(), name="logout"),
    path("buscar/", views.search, name="search"),
    path("suministros/<str:number>/", views.account_detail, name="account-detail"),
    path(
        "suministros/<str:number>/estado-de-cuenta/",
        views.account_statement,
        name="account-statement",
    ),
    path(
        "suministros/<str:number>/estado-de-cuenta.csv",
        views.account_statement_csv,
        name="account-statement-csv",
    ),
    path("suministros/<str:number>/auditoria/", views.account_audit, name="account-audit"),
    path("auditoria/usuarios/", views.user_list, name="user-list"),
    path("auditoria/usuarios/<str:username>/", views.user_audit, name="user-audit"),
    path("", include("caudal.web.metering.urls")),
    path("", include("caudal.web.billing.urls")),
    path("", include("caudal.web.tariffs.urls")),
    path("", include("caudal.web.collection.urls")),
    path("", include("caudal.web.portfolio.urls")),
    path("", include("caudal.web.reports.urls")),
]
