from django.db.models import Count, Q, QuerySet

from monetization.models import Conversion, Link, MonetizationSource
from tenants.models import Tenant


def source_list(*, tenant: Tenant) -> QuerySet[MonetizationSource]:
    return MonetizationSource.objects.for_tenant(tenant)


def link_list(*, tenant: Tenant) -> QuerySet[Link]:
    """Links with their human click counts (link-preview fetchers excluded), counted in the same query."""
    human_clicks = Count("clicks", filter=Q(clicks__is_bot=False))
    links: QuerySet[Link] = Link.objects.for_tenant(tenant).annotate(human_clicks=human_clicks)
    return links


def conversion_list(*, tenant: Tenant) -> QuerySet[Conversion]:
    return Conversion.objects.for_tenant(tenant).order_by("-occurred_at", "-id")
