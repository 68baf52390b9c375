from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from analytics.api.params import AnalyticsQuery
from analytics.pages import DrillDown, RangedPageView, overview_figures
from tenants.selectors import membership_list_for_user


@login_required
def tenant_chooser(request: HttpRequest) -> HttpResponse:
    """`/`: straight to the user's tenant when there is one, a chooser when there are several."""
    memberships = list(membership_list_for_user(user=request.user))  # type: ignore[arg-type]
    if len(memberships) == 1:
        return redirect("tenants:home", tenant_slug=memberships[0].tenant.slug)
    return render(request, "tenants/chooser.html", {"memberships": memberships})


class TenantHomeView(RangedPageView):
    """The overview: KPI tiles against the previous period, charts, top intents and bot health for a date range."""

    template_name = "tenants/home.html"
    nav_section = "overview"

    def figures(self, *, query: AnalyticsQuery, links: DrillDown) -> dict[str, Any]:
        return overview_figures(tenant=self.tenant, query=query, links=links, bots=self.range_form.bots)
