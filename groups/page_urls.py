from django.urls import path

from tenants.dashboard import TenantPageView

app_name = "groups"

urlpatterns = [
    path(
        "groups/", TenantPageView.as_view(template_name="dashboard/placeholder.html", nav_section="groups"), name="list"
    ),
]
