"""Every API route and dashboard page, walked as another tenant: their objects do not exist for you (404).

Routes are discovered from the URL configuration, so a new endpoint or page joins this test by being registered.
An API resource needs a factory for its model in its app's tests/factories.py; the test fails until it has one.
"""

import importlib
from dataclasses import dataclass
from typing import Any

import pytest
from django.apps import apps
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils.html import escape
from factory.django import DjangoModelFactory

from tenants.models import Role
from tenants.tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Route:
    name: str  # with its namespace, for reverse()
    prefix: str
    kwargs: frozenset[str]
    pattern: URLPattern

    def __str__(self) -> str:
        return f"{self.name}({', '.join(sorted(self.kwargs))})"

    def url(self, **values: str) -> str:
        return reverse(self.name, kwargs={name: values[name] for name in self.kwargs})

    @property
    def view_class(self) -> Any:
        return getattr(self.pattern.callback, "cls", None) or getattr(self.pattern.callback, "view_class", None)


def _walk(
    entries: list[Any], namespace: str = "", prefix: str = "", kwargs: frozenset[str] = frozenset()
) -> list[Route]:
    routes = []
    for entry in entries:
        found = kwargs | set(entry.pattern.regex.groupindex)
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            routes += _walk(entry.url_patterns, inner, prefix + str(entry.pattern), found)
        elif entry.name and "format" not in found:
            routes.append(Route(f"{namespace}{entry.name}", prefix, found, entry))
    return routes


ROUTES = _walk(get_resolver().url_patterns)
API_ROUTES = [route for route in ROUTES if route.prefix.startswith("api/v1/")]
API_DETAIL_ROUTES = [route for route in API_ROUTES if "pk" in route.kwargs]
API_LIST_ROUTES = [route for route in API_ROUTES if "pk" not in route.kwargs and route.view_class is not None
                   and hasattr(route.view_class, "model")]  # fmt: skip
DASHBOARD_ROUTES = [route for route in ROUTES if "tenant_slug" in route.kwargs]


def _factory_for(model: type) -> type[DjangoModelFactory]:
    for app in apps.get_app_configs():
        try:
            module = importlib.import_module(f"{app.name}.tests.factories")
        except ModuleNotFoundError:
            continue
        for candidate in vars(module).values():
            is_factory = isinstance(candidate, type) and issubclass(candidate, DjangoModelFactory)
            if is_factory and candidate._meta.model is model:
                return candidate
    app_label = model._meta.app_label  # type: ignore[attr-defined]
    raise AssertionError(f"no factory for {model.__name__}: add one to {app_label}/tests/factories.py")


def _url_for(route: Route, obj: Any) -> str:
    """The route's URL for `obj`: `pk` is the object, `<parent>_pk` its foreign key (`bot_pk` -> obj.bot_id)."""
    values = {name: str(getattr(obj, f"{name.removesuffix('_pk')}_id")) for name in route.kwargs if name != "pk"}
    if "pk" in route.kwargs:
        values["pk"] = str(obj.pk)
    return route.url(**values)


# API views that hold no tenant-owned rows of their own; each has its own isolation test, named here.
PER_TENANT_SINGLETON_ROUTES = {
    "groupme-connection": "bots/tests/test_provisioning.py::test_groupme_connection_is_per_tenant",
    "groupme-groups": "bots/tests/test_provisioning.py::test_groupme_connection_is_per_tenant",
    "revenue-ledger": "monetization/tests/test_ledger.py::test_another_tenants_key_sees_none_of_this_tenants_money",
    "reconciliation": "monetization/tests/test_ledger.py::test_another_tenants_key_sees_none_of_this_tenants_money",
    "bot-health": "analytics/tests/test_bot_health.py::test_another_tenants_bots_do_not_exist_here",
    "exports": "analytics/tests/test_exports.py::test_another_tenants_key_sees_none_of_these_rows",
    "kpis": "analytics/tests/test_kpis.py::test_another_tenants_key_sees_none_of_these_figures",
    "sponsor-performance": "monetization/tests/test_sponsorship.py::test_sponsor_performance_is_per_tenant",
    **dict.fromkeys(
        [
            "insights-active-members",
            "insights-retention",
            "insights-funnel",
            "insights-intents",
            "insights-sentiment",
            "insights-economics",
        ],
        "analytics/tests/test_insights.py::test_another_tenants_key_sees_none_of_these_insights",
    ),
}


def test_every_api_route_and_dashboard_page_is_walked():
    assert API_DETAIL_ROUTES, "the walker found no API detail routes"
    assert API_LIST_ROUTES, "the walker found no API list routes"
    assert DASHBOARD_ROUTES, "the walker found no dashboard pages"
    walked = {route.name for route in API_DETAIL_ROUTES + API_LIST_ROUTES}
    unwalked = {route.name for route in API_ROUTES} - walked - set(PER_TENANT_SINGLETON_ROUTES)
    assert not unwalked, f"API routes with no tenant-owned model to walk; give them a model or a named test: {unwalked}"


@pytest.mark.parametrize("route", API_DETAIL_ROUTES, ids=str)
def test_api_detail_routes_hide_other_tenants_objects(route, tenant, other_tenant, api_client_for):
    theirs = _factory_for(route.view_class.model)(tenant=tenant)
    url = _url_for(route, theirs)
    methods = list(route.pattern.callback.actions)

    for method in methods:
        response = getattr(api_client_for(other_tenant), method)(url, {}, format="json")
        assert response.status_code == 404, f"{method.upper()} {url} answered {response.status_code}"
        assert str(theirs.pk) not in response.content.decode()
    # The same request from the owner's tenant does reach the object, so the 404 above is the tenant boundary.
    control = getattr(api_client_for(tenant), "get" if "get" in methods else methods[0])(url, {}, format="json")
    assert control.status_code != 404


@pytest.mark.parametrize("route", API_LIST_ROUTES, ids=str)
def test_api_lists_show_nothing_of_other_tenants(route, tenant, other_tenant, api_client_for):
    theirs = _factory_for(route.view_class.model)(tenant=tenant)
    url = _url_for(route, theirs)

    response = api_client_for(other_tenant).get(url)

    # A list under another tenant's parent (bots/{bot_pk}/rules/) does not exist; a top-level list is empty of theirs.
    assert response.status_code == (404 if route.kwargs else 200)
    assert str(theirs.pk) not in response.content.decode()
    assert str(theirs.pk) in api_client_for(tenant).get(url).content.decode()


def _dashboard_url(route: Route, tenant: Any, *, slug: str | None = None) -> str:
    """The page's URL for an object of `tenant` (made by its model's factory when the page takes one)."""
    values = {"tenant_slug": slug or tenant.slug}
    if route.kwargs - {"tenant_slug"}:
        obj: Any = _factory_for(route.view_class.model)(tenant=tenant)
        values.update({name: str(getattr(obj, f"{name.removesuffix('_pk')}_id")) for name in route.kwargs
                       if name.endswith("_pk")})  # fmt: skip
        if "pk" in route.kwargs:
            values["pk"] = str(obj.pk)
    return route.url(**values)


# A page answers its owner with the page (200), a redirect, or 405 when it is a POST-only action; never 404.
REACHED = (200, 302, 405)


@pytest.mark.parametrize("route", DASHBOARD_ROUTES, ids=str)
def test_dashboard_pages_of_another_tenant_do_not_exist(route, tenant, other_tenant, client):
    url = _dashboard_url(route, tenant)
    client.force_login(MembershipFactory(tenant=other_tenant, user=UserFactory(), role=Role.OWNER).user)

    for method in ("get", "post"):
        response = getattr(client, method)(url)
        assert response.status_code == 404, f"{method.upper()} {url} answered {response.status_code}"
        assert escape(tenant.name) not in response.content.decode()

    client.force_login(MembershipFactory(tenant=tenant, user=UserFactory(), role=Role.OWNER).user)
    assert client.get(url).status_code in REACHED


@pytest.mark.parametrize("route", [r for r in DASHBOARD_ROUTES if r.kwargs - {"tenant_slug"}], ids=str)
def test_a_member_of_two_tenants_cannot_reach_one_tenants_object_under_the_other(route, tenant, other_tenant, client):
    user = UserFactory()
    MembershipFactory(tenant=tenant, user=user, role=Role.OWNER)
    MembershipFactory(tenant=other_tenant, user=user, role=Role.OWNER)
    client.force_login(user)
    theirs = _dashboard_url(route, tenant)
    under_the_other = _dashboard_url(route, tenant, slug=other_tenant.slug)
    assert theirs != under_the_other

    for method in ("get", "post"):
        response = getattr(client, method)(under_the_other)
        assert response.status_code == 404, f"{method.upper()} {under_the_other} answered {response.status_code}"
    assert client.get(theirs).status_code in REACHED


@pytest.mark.parametrize("route", DASHBOARD_ROUTES, ids=str)
def test_analysts_change_nothing_on_any_page(route, tenant, client):
    url = _dashboard_url(route, tenant)
    client.force_login(MembershipFactory(tenant=tenant, user=UserFactory(), role=Role.ANALYST).user)

    assert client.get(url).status_code in REACHED
    for method in ("post", "put", "patch", "delete"):
        response = getattr(client, method)(url)
        assert response.status_code == 403, f"{method.upper()} {url} answered {response.status_code} to an analyst"
