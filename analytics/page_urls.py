from django.urls import path

from tenants.dashboard import TenantPageView

app_name = "analytics"

urlpatterns = [
    path(
        "analytics/",
        TenantPageView.as_view(template_name="dashboard/placeholder.html", nav_section="analytics"),
        name="index",
    ),
]
