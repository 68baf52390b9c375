from django.urls import path

from analytics.api.export_views import ExportView
from analytics.api.health_views import BotHealthView
from analytics.api.insight_views import (
    ActiveMembersView,
    CommunityEconomicsView,
    FunnelView,
    RetentionView,
    SentimentTrendView,
    TopIntentsView,
)
from analytics.api.views import KpiView

urlpatterns = [
    path("kpis/", KpiView.as_view(), name="kpis"),
    path("exports/<str:kind>.csv", ExportView.as_view(), name="exports"),
    path("bot-health/", BotHealthView.as_view(), name="bot-health"),
    path("insights/active-members/", ActiveMembersView.as_view(), name="insights-active-members"),
    path("insights/retention/", RetentionView.as_view(), name="insights-retention"),
    path("insights/funnel/", FunnelView.as_view(), name="insights-funnel"),
    path("insights/intents/", TopIntentsView.as_view(), name="insights-intents"),
    path("insights/sentiment/", SentimentTrendView.as_view(), name="insights-sentiment"),
    path("insights/economics/", CommunityEconomicsView.as_view(), name="insights-economics"),
]
