from django.urls import path

from analytics.api.export_views import ExportView
from analytics.api.health_views import BotHealthView
from analytics.api.views import KpiView

urlpatterns = [
    path("kpis/", KpiView.as_view(), name="kpis"),
    path("exports/<str:kind>.csv", ExportView.as_view(), name="exports"),
    path("bot-health/", BotHealthView.as_view(), name="bot-health"),
]
