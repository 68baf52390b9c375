from django.urls import path

from analytics.api.views import KpiView

urlpatterns = [
    path("kpis/", KpiView.as_view(), name="kpis"),
]
