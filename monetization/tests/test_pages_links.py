"""The Links page: tracked links with their short URL, source, human and unique clicks and conversions; create,
edit and delete through the link services, their validation errors inline."""

import pytest
from django.conf import settings
from django.utils.html import escape

from monetization.models import Conversion, Link
from monetization.tests.factories import ClickFactory, ConversionFactory, LinkFactory, MonetizationSourceFactory
from tenants.models import Role
from tenants.tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def _links_url(tenant):
    return f"/t/{tenant.slug}/links/"


def _edit_url(link):
    return f"/t/{link.tenant.slug}/links/{link.pk}/"


def _delete_url(link):
    return f"/t/{link.tenant.slug}/links/{link.pk}/delete/"


@pytest.fixture
def analyst_client(tenant, client):
    client.force_login(MembershipFactory(tenant=tenant, user=UserFactory(), role=Role.ANALYST).user)
    return client


# --- The list --------------------------------------------------------------------------------------------------------


def test_links_page_shows_short_url_source_and_human_unique_clicks_and_conversions(owner_client, tenant, other_tenant):
    source = MonetizationSourceFactory(tenant=tenant, name="Kayak Affiliates")
    link = LinkFactory(tenant=tenant, name="Kayak sale", source=source)
    first = ClickFactory(tenant=tenant, link=link, visitor_hash="visitor-a")
    ClickFactory(tenant=tenant, link=link, visitor_hash="visitor-a")
    ClickFactory(tenant=tenant, link=link, visitor_hash="visitor-b")
    ClickFactory(tenant=tenant, link=link, visitor_hash="")  # no address: a click, but no visitor to count
    ClickFactory(tenant=tenant, link=link, visitor_hash="crawler", is_bot=True)  # a link preview: not a person
    ConversionFactory(tenant=tenant, source=source, attributed_click=first)
    ConversionFactory(tenant=tenant, source=source, attributed_click=first, outcome=Conversion.Outcome.REFUND,
                      amount=-1999)  # fmt: skip
    LinkFactory(tenant=other_tenant, name="Bakery promo")

    response = owner_client.get(_links_url(tenant))

    page = response.content.decode()
    assert response.status_code == 200
    assert response.context["nav_section"] == "links"
    [row] = response.context["rows"]
    assert (row["link"].total_clicks, row["link"].unique_clicks, row["link"].conversion_count) == (4, 2, 1)
    short_url = f"{settings.PUBLIC_BASE_URL}/l/{link.code}"
    assert f'value="{short_url}"' in page
    assert f'data-copy="short-{link.pk}"' in page
    assert "Kayak sale" in page
    assert "Kayak Affiliates" in page
    assert escape(link.destination_url) in page
    assert "Bakery promo" not in page


def test_links_page_without_links_says_what_to_do_next(owner_client, tenant):
    page = owner_client.get(_links_url(tenant)).content.decode()

    assert "No tracked links yet" in page
    assert f'href="/t/{tenant.slug}/links/new/"' in page


@pytest.mark.parametrize("rows", [3, 30])
def test_links_page_answers_in_a_bounded_number_of_queries(owner_client, tenant, rows, django_assert_max_num_queries):
    source = MonetizationSourceFactory(tenant=tenant)
    for _ in range(rows):
        link = LinkFactory(tenant=tenant, source=source)
        click = ClickFactory(tenant=tenant, link=link, visitor_hash="v")
        ConversionFactory(tenant=tenant, source=source, attributed_click=click)
    # session, user, membership + tenant, the switcher's memberships, count, links with their counts and source
    with django_assert_max_num_queries(6):
        response = owner_client.get(_links_url(tenant))
    assert len(response.context["rows"]) == rows


def test_links_page_is_paginated_at_50(owner_client, tenant):
    for _ in range(51):
        LinkFactory(tenant=tenant)

    first = owner_client.get(_links_url(tenant))
    second = owner_client.get(_links_url(tenant) + "?page=2")

    assert len(first.context["rows"]) == 50
    assert len(second.context["rows"]) == 1
    assert 'rel="next"' in first.content.decode()


def test_analysts_see_links_without_write_controls(analyst_client, tenant):
    link = LinkFactory(tenant=tenant, name="Kayak sale")

    page = analyst_client.get(_links_url(tenant)).content.decode()

    assert "Kayak sale" in page
    assert f'href="/t/{tenant.slug}/links/new/"' not in page
    assert _delete_url(link) not in page


# --- Create ----------------------------------------------------------------------------------------------------------


def test_owner_creates_a_link_and_is_sent_back_to_the_list(owner_client, tenant):
    source = MonetizationSourceFactory(tenant=tenant)

    response = owner_client.post(
        f"/t/{tenant.slug}/links/new/",
        {"name": "Kayaks", "destination_url": "https://shop.example/kayaks?utm_source=gm", "click_param": "subid",
         "source": str(source.pk)},
    )  # fmt: skip

    assert response.status_code == 302
    assert response["Location"] == _links_url(tenant)
    link = Link.objects.get(tenant=tenant)
    assert (link.name, link.destination_url, link.click_param, link.source) == (
        "Kayaks", "https://shop.example/kayaks?utm_source=gm", "subid", source,
    )  # fmt: skip
    assert link.code in owner_client.get(response["Location"]).content.decode()


def test_new_link_form_renders_with_a_label_for_every_field(owner_client, tenant):
    response = owner_client.get(f"/t/{tenant.slug}/links/new/")

    page = response.content.decode()
    assert response.status_code == 200
    for name in ("name", "destination_url", "click_param", "source"):
        assert f'for="id_{name}"' in page


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"destination_url": "ftp://files.example/kayaks"}, "destination_url", "An http:// or https:// URL."),
        ({"destination_url": "not a url"}, "destination_url", "An http:// or https:// URL."),
        ({"click_param": "click id!"}, "click_param", "Letters, digits, _ . - only."),
        ({"destination_url": ""}, "destination_url", "This field is required."),
    ],
)
def test_link_create_with_bad_input_shows_the_error_inline_with_400_and_creates_nothing(
    owner_client, tenant, fields, field, message
):
    data = {"destination_url": "https://shop.example/", "click_param": "click_id", **fields}

    response = owner_client.post(f"/t/{tenant.slug}/links/new/", data)

    assert response.status_code == 400
    assert response.context["form"].errors[field] == [message]
    assert escape(message) in response.content.decode()
    assert not Link.objects.exists()


def test_link_create_refuses_another_tenants_source(owner_client, tenant, other_tenant):
    theirs = MonetizationSourceFactory(tenant=other_tenant)

    response = owner_client.post(
        f"/t/{tenant.slug}/links/new/",
        {"destination_url": "https://shop.example/", "click_param": "click_id", "source": str(theirs.pk)},
    )

    assert response.status_code == 400
    assert "source" in response.context["form"].errors
    assert not Link.objects.exists()


# --- Edit and delete -------------------------------------------------------------------------------------------------


def test_owner_edits_a_link(owner_client, tenant):
    link = LinkFactory(tenant=tenant, name="Old", source=MonetizationSourceFactory(tenant=tenant))

    form = owner_client.get(_edit_url(link))
    response = owner_client.post(
        _edit_url(link), {"name": "New", "destination_url": "https://new.example/", "click_param": "cid", "source": ""}
    )

    assert form.status_code == 200
    assert f"{settings.PUBLIC_BASE_URL}/l/{link.code}" in form.content.decode()
    assert response.status_code == 302
    link.refresh_from_db()
    assert (link.name, link.destination_url, link.click_param, link.source) == (
        "New", "https://new.example/", "cid", None,
    )  # fmt: skip


def test_link_edit_with_a_bad_destination_is_400_and_changes_nothing(owner_client, tenant):
    link = LinkFactory(tenant=tenant, name="Kept")

    response = owner_client.post(
        _edit_url(link), {"name": "Changed", "destination_url": "javascript:alert(1)", "click_param": "click_id"}
    )

    assert response.status_code == 400
    assert response.context["form"].errors["destination_url"] == ["An http:// or https:// URL."]
    link.refresh_from_db()
    assert (link.name, link.destination_url) == ("Kept", "https://shop.example.com/kayaks?utm_source=groupme")


def test_owner_deletes_a_link(owner_client, tenant):
    link = LinkFactory(tenant=tenant)

    response = owner_client.post(_delete_url(link))

    assert response.status_code == 302
    assert response["Location"] == _links_url(tenant)
    assert not Link.objects.filter(pk=link.pk).exists()


def test_delete_is_post_only(owner_client, tenant):
    link = LinkFactory(tenant=tenant)

    assert owner_client.get(_delete_url(link)).status_code == 405
    assert Link.objects.filter(pk=link.pk).exists()


def test_another_tenants_link_cannot_be_edited_or_deleted(owner_client, tenant, other_tenant):
    theirs = LinkFactory(tenant=other_tenant, name="Theirs")
    under_mine = f"/t/{tenant.slug}/links/{theirs.pk}/"

    edit = owner_client.post(under_mine, {"name": "Mine now", "destination_url": "https://x.example/",
                                          "click_param": "click_id"})  # fmt: skip
    delete = owner_client.post(under_mine + "delete/")

    assert (edit.status_code, delete.status_code) == (404, 404)
    theirs.refresh_from_db()
    assert theirs.name == "Theirs"


def test_analysts_can_read_a_link_but_not_create_edit_or_delete_one(analyst_client, tenant):
    link = LinkFactory(tenant=tenant, name="Kept")
    data = {"name": "Changed", "destination_url": "https://x.example/", "click_param": "click_id"}

    read = analyst_client.get(_edit_url(link))
    create = analyst_client.post(f"/t/{tenant.slug}/links/new/", data)
    edit = analyst_client.post(_edit_url(link), data)
    delete = analyst_client.post(_delete_url(link))

    assert read.status_code == 200
    assert "disabled" in read.content.decode()
    assert (create.status_code, edit.status_code, delete.status_code) == (403, 403, 403)
    link.refresh_from_db()
    assert link.name == "Kept"
    assert Link.objects.count() == 1
