from django.urls import path

from tenants.dashboard import TenantPageView

app_name = "manage"

urlpatterns = [
    path(
        "api-keys/",
        TenantPageView.as_view(template_name="dashboard/placeholder.html", nav_section="api-keys"),
        name="api-keys",
    ),
    path("team/", TenantPageView.as_view(template_name="dashboard/placeholder.html", nav_section="team"), name="team"),
    path(
        "settings/",
        TenantPageView.as_view(template_name="dashboard/placeholder.html", nav_section="settings"),
        name="settings",
    ),
]
