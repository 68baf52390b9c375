from django.urls import path

from tenants.dashboard import TenantPageView

app_name = "money"

urlpatterns = [
    path(
        "money/", TenantPageView.as_view(template_name="dashboard/placeholder.html", nav_section="money"), name="index"
    ),
    path(
        "links/", TenantPageView.as_view(template_name="dashboard/placeholder.html", nav_section="links"), name="links"
    ),
    path(
        "sponsored/",
        TenantPageView.as_view(template_name="dashboard/placeholder.html", nav_section="sponsored"),
        name="sponsored",
    ),
]
