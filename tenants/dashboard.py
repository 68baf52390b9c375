"""Base view of every dashboard page under /t/<tenant_slug>/.

The tenant is resolved once per request from the URL and the user's membership; a tenant the user does not belong
to does not exist for them (404). Analysts may look at everything and change nothing (403 on any write).
"""

from typing import Any

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponseBase
from django.views.generic import TemplateView

from tenants.models import Membership, Tenant
from tenants.scoping import TenantScopedQuerysetMixin
from tenants.selectors import membership_get, membership_list_for_user

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class TenantViewMixin(LoginRequiredMixin):
    request: HttpRequest
    membership: Membership
    tenant: Tenant
    # Which sidebar entry is current: "overview", "analytics", "bots", "groups", "interactions", "links", "money",
    # "sponsored", "api-keys", "team" or "settings".
    nav_section = ""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        membership = membership_get(user=request.user, tenant_slug=kwargs["tenant_slug"])
        if membership is None:
            raise Http404("No such tenant.")
        if request.method not in SAFE_METHODS and not membership.can_write:
            raise PermissionDenied("Your role in this tenant is read-only.")
        self.membership, self.tenant = membership, membership.tenant
        return super().dispatch(request, *args, **kwargs)

    def get_tenant(self) -> Tenant:
        return self.tenant

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context: dict[str, Any] = super().get_context_data(**kwargs)  # type: ignore[misc]
        context.update(
            tenant=self.tenant,
            membership=self.membership,
            memberships=membership_list_for_user(user=self.request.user),  # type: ignore[arg-type]
            nav_section=self.nav_section,
            can_write=self.membership.can_write,
        )
        return context


class TenantScopedPageMixin(TenantViewMixin, TenantScopedQuerysetMixin):
    """For list and detail pages of tenant-owned rows: the queryset guard of the API, on the dashboard."""


class TenantPageView(TenantViewMixin, TemplateView):
    pass
