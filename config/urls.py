from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from config.health import health
from tenants.views import tenant_chooser

api_v1 = [
    path("", include("tenants.api.urls")),
    path("", include("bots.api.urls")),
    path("", include("groups.api.urls")),
    path("", include("monetization.api.urls")),
    path("", include("analytics.api.urls")),
]

urlpatterns = [
    path("", tenant_chooser, name="home"),
    path("health/", health, name="health"),
    path("", include("bots.urls")),
    path("", include("monetization.urls")),
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("invitations/", include("tenants.invitation_urls")),
    path("t/<slug:tenant_slug>/", include("tenants.urls")),
    path("t/<slug:tenant_slug>/", include("tenants.page_urls")),
    path("t/<slug:tenant_slug>/", include("analytics.page_urls")),
    path("t/<slug:tenant_slug>/", include("bots.page_urls")),
    path("t/<slug:tenant_slug>/", include("bots.interaction_page_urls")),
    path("t/<slug:tenant_slug>/", include("groups.page_urls")),
    path("t/<slug:tenant_slug>/", include("monetization.page_urls")),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[]), name="schema"),
    # The split view serves Swagger UI's start-up code as a script of its own (?script=), and its template has no
    # inline <style>: the CSP allows neither.
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="schema", template_name="api/swagger_ui.html", authentication_classes=[], permission_classes=[]
        ),
        name="api-docs",
    ),
]


handler404 = "tenants.api.errors.not_found"
handler500 = "tenants.api.errors.server_error"
