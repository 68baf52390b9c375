from django.urls import path

from analytics.pages import EXPORTS, AnalyticsPageView, DashboardExportView

app_name = "analytics"

urlpatterns = [
    path("analytics/", AnalyticsPageView.as_view(), name="index"),
    # One fixed URL per download (analytics:export-kpis, …): a kind that is not offered does not resolve (404).
    *(
        path(f"analytics/export/{kind}.csv", DashboardExportView.as_view(), {"kind": kind}, name=f"export-{kind}")
        for kind in EXPORTS
    ),
]
