import pytest
from django.http import HttpResponse
from django.test import RequestFactory
from django.utils.html import escape
from django.views import View

from tenants.dashboard import TenantViewMixin
from tenants.models import Role
from tenants.tests.factories import MembershipFactory, TenantFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_anonymous_visitors_are_sent_to_the_login_page(client, tenant):
    assert client.get("/").url.startswith("/accounts/login/")
    assert client.get(f"/t/{tenant.slug}/").url.startswith("/accounts/login/")


def test_login_with_email_and_password_lands_on_the_users_tenant(client, tenant):
    MembershipFactory(tenant=tenant, user=UserFactory(email="alice@example.com"))

    credentials = {"username": "alice@example.com", "password": "correct horse battery staple"}
    response = client.post("/accounts/login/", credentials)
    assert response.status_code == 302
    assert client.get("/").url == f"/t/{tenant.slug}/"


def test_wrong_password_is_refused_with_a_message(client, tenant):
    MembershipFactory(tenant=tenant, user=UserFactory(email="alice@example.com"))

    response = client.post("/accounts/login/", {"username": "alice@example.com", "password": "nope"})
    assert response.status_code == 200
    assert "correct email address and password" in response.content.decode().replace("e-mail", "email")


def test_member_of_several_tenants_chooses_and_can_switch(client, tenant, other_tenant):
    user = UserFactory()
    MembershipFactory(tenant=tenant, user=user)
    MembershipFactory(tenant=other_tenant, user=user, role=Role.ANALYST)
    client.force_login(user)

    chooser = client.get("/").content.decode()
    assert escape(tenant.name) in chooser
    assert escape(other_tenant.name) in chooser
    home = client.get(f"/t/{other_tenant.slug}/").content.decode()
    assert f'href="/t/{tenant.slug}/"' in home  # the switcher


def test_home_page_answers_in_a_bounded_number_of_queries(client, tenant, django_assert_num_queries):
    user = MembershipFactory(tenant=tenant).user
    for _ in range(5):
        MembershipFactory(user=user, tenant=TenantFactory())
    client.force_login(user)
    # session, user, this membership with its tenant, the range form's bots and groups (no bots: the onboarding
    # empty state), all memberships for the switcher; the same however many memberships the user has
    with django_assert_num_queries(6):
        response = client.get(f"/t/{tenant.slug}/")
    assert response.status_code == 200


def test_an_inactive_tenant_is_not_found(owner_client, tenant):
    tenant.is_active = False
    tenant.save()
    assert owner_client.get(f"/t/{tenant.slug}/").status_code == 404


class _WritableView(TenantViewMixin, View):
    def get(self, request, **kwargs):
        return HttpResponse("read")

    def post(self, request, **kwargs):
        return HttpResponse("written")


@pytest.mark.parametrize(("role", "post_status"), [(Role.OWNER, 200), (Role.ADMIN, 200), (Role.ANALYST, 403)])
def test_analysts_read_but_cannot_change_anything(tenant, role, post_status):
    user = MembershipFactory(tenant=tenant, role=role).user
    view = _WritableView.as_view()

    def request(method):
        built = getattr(RequestFactory(), method)("/")
        built.user = user
        try:
            return view(built, tenant_slug=tenant.slug).status_code
        except Exception as exc:  # PermissionDenied becomes 403 in the handler
            return 403 if type(exc).__name__ == "PermissionDenied" else 500

    assert request("get") == 200
    assert request("post") == post_status
