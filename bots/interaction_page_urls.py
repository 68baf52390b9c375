from django.urls import path

from tenants.dashboard import TenantPageView

app_name = "interactions"

urlpatterns = [
    path(
        "interactions/",
        TenantPageView.as_view(template_name="dashboard/placeholder.html", nav_section="interactions"),
        name="list",
    ),
]
