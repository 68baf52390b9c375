from django.urls import path

from analytics.api.export_views import ExportView
from analytics.api.views import KpiView

urlpatterns = [
    path("kpis/", KpiView.as_view(), name="kpis"),
    path("exports/<str:kind>.csv", ExportView.as_view(), name="exports"),
]
