"""Bills: one bill as a page and as PDF, and the print batch of a route (bill_views)."""

from django.urls import URLPattern, URLResolver, path

from . import bill_views

urlpatterns: list[URLPattern | URLResolver] = [
    path("facturas/lote/", bill_views.bill_batch, name="bill-batch"),
    path("facturas/<str:number>.pdf", bill_views.bill_pdf, name="bill-pdf"),
    path("facturas/<str:number>/", bill_views.bill_detail, name="bill-detail"),
]
