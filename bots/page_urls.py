from django.urls import path

from tenants.dashboard import TenantPageView

app_name = "bots"

urlpatterns = [
    path("bots/", TenantPageView.as_view(template_name="dashboard/placeholder.html", nav_section="bots"), name="list"),
]
