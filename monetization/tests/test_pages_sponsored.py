"""The Sponsored messages page: creatives with schedule, groups, caps and status, sponsor performance over a range;
create, edit and delete through the sponsorship services, their validation errors inline."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.utils import timezone
from django.utils.html import escape

from groups.tests.factories import GroupFactory
from monetization.models import Creative, SponsoredImpression
from monetization.services import source_create
from monetization.tests.factories import ClickFactory, CreativeFactory, LinkFactory, MonetizationSourceFactory
from tenants.models import Role
from tenants.tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


def _url(tenant, page="", **query):
    suffix = "&".join(f"{name}={value}" for name, value in query.items())
    return f"/t/{tenant.slug}/sponsored/{page}" + (f"?{suffix}" if suffix else "")


def _sponsor(tenant, name="Lakeside Outfitters"):
    return source_create(tenant=tenant, name=name, kind="sponsorship")


def _shown(creative, group, *, members, day=None):
    return SponsoredImpression.objects.create(
        tenant=creative.tenant, creative=creative, group=group, member_count=members, text=creative.text,
        local_date=day or timezone.localdate(timezone=creative.tenant.time_zone),
    )  # fmt: skip


def _form(source, **fields):
    return {"source": str(source.pk), "name": "Weekend", "text": "20% off kayaks", "mode": "reply",
            "post_times": "", "starts_at": "2025-06-01T09:00", "ends_at": "", "daily_cap_per_group": "3",
            "is_active": "on", **fields}  # fmt: skip


@pytest.fixture
def analyst_client(tenant, client):
    client.force_login(MembershipFactory(tenant=tenant, user=UserFactory(), role=Role.ANALYST).user)
    return client


# --- The page --------------------------------------------------------------------------------------------------------


def test_sponsored_page_lists_creatives_with_schedule_groups_cap_and_status(owner_client, tenant, other_tenant):
    sponsor = _sponsor(tenant)
    anglers = GroupFactory(tenant=tenant, name="Lake Anglers")
    running = CreativeFactory(tenant=tenant, source=sponsor, name="Weekend sale", mode="scheduled",
                              post_times=["09:00", "17:30"], daily_cap_per_group=2, starts_at=LONG_AGO)  # fmt: skip
    running.groups.set([anglers])
    CreativeFactory(tenant=tenant, source=sponsor, name="Paused one", is_active=False)
    CreativeFactory(tenant=tenant, source=sponsor, name="Next month", starts_at=timezone.now() + timedelta(days=30))
    CreativeFactory(tenant=tenant, source=sponsor, name="Last year", starts_at=LONG_AGO,
                    ends_at=timezone.now() - timedelta(days=1))  # fmt: skip
    CreativeFactory(tenant=other_tenant, name="Bakery special")

    response = owner_client.get(_url(tenant))

    page = response.content.decode()
    assert response.status_code == 200
    assert response.context["nav_section"] == "sponsored"
    statuses = {row["creative"].name: row["status"].label for row in response.context["creatives"]}
    assert statuses == {"Weekend sale": "Running", "Paused one": "Paused", "Next month": "Starts later",
                        "Last year": "Ended"}  # fmt: skip
    assert "09:00, 17:30" in page
    assert "Lake Anglers" in page
    assert "Every group" in page
    assert "Lakeside Outfitters" in page
    assert "Bakery special" not in page


def test_sponsored_page_reports_impressions_reach_clicks_and_ctr_per_sponsor(owner_client, tenant):
    sponsor = _sponsor(tenant)
    link = LinkFactory(tenant=tenant)
    creative = CreativeFactory(tenant=tenant, source=sponsor, name="Weekend sale", mode="scheduled",
                               post_times=["09:00"], link=link, starts_at=LONG_AGO)  # fmt: skip
    group = GroupFactory(tenant=tenant)
    _shown(creative, group, members=50)
    _shown(creative, group, members=50, day=timezone.localdate(timezone=tenant.time_zone) - timedelta(days=40))
    for _ in range(3):
        ClickFactory(tenant=tenant, link=link)

    response = owner_client.get(_url(tenant))

    [figures] = response.context["performance"]
    assert (figures["source_name"], figures["impressions"], figures["reach"], figures["clicks"]) == (
        "Lakeside Outfitters", 1, 50, 3,
    )  # fmt: skip
    assert figures["ctr_text"] == "6.00%"
    assert figures["creatives"][0]["ctr_text"] == "6.00%"
    assert "6.00%" in response.content.decode()


def test_sponsored_page_without_creatives_says_what_to_do_next(owner_client, tenant):
    page = owner_client.get(_url(tenant)).content.decode()

    assert "No sponsored messages yet" in page
    assert f'href="/t/{tenant.slug}/money/sources/new/?kind=sponsorship"' in page


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"since": "2025-06-31"}, "A date as YYYY-MM-DD."),
        ({"since": "9999-12-25", "until": "9999-12-31"}, "A date from 2000-01-01 to 2999-12-31"),
        ({"since": "2025-06-02", "until": "2025-06-01"}, "On or after the start date."),
    ],
)
def test_sponsored_page_with_a_bad_range_is_400_with_a_message(owner_client, tenant, query, message):
    CreativeFactory(tenant=tenant, name="Still listed")

    response = owner_client.get(_url(tenant, **query))

    assert response.status_code == 400
    assert escape(message) in response.content.decode()
    assert "performance" not in response.context


@pytest.mark.parametrize("rows", [3, 30])
def test_sponsored_page_answers_in_a_bounded_number_of_queries(
    owner_client, tenant, rows, django_assert_max_num_queries
):
    sponsor, group = _sponsor(tenant), GroupFactory(tenant=tenant)
    for _ in range(rows):
        creative = CreativeFactory(tenant=tenant, source=sponsor, link=LinkFactory(tenant=tenant), starts_at=LONG_AGO)
        creative.groups.set([group])
        _shown(creative, group, members=10)
    # session, user, membership + tenant, switcher; count, creatives + source + link, their groups;
    # sponsor performance: sponsors, creatives with clicks, impressions, revenue
    with django_assert_max_num_queries(11):
        response = owner_client.get(_url(tenant))
    assert len(response.context["creatives"]) == rows
    assert response.context["performance"][0]["impressions"] == rows


def test_analysts_see_sponsored_messages_without_write_controls(analyst_client, tenant):
    creative = CreativeFactory(tenant=tenant, name="Weekend sale")

    page = analyst_client.get(_url(tenant)).content.decode()

    assert "Weekend sale" in page
    assert f'href="/t/{tenant.slug}/sponsored/new/"' not in page
    assert _url(tenant, f"{creative.pk}/delete/") not in page


# --- Create ----------------------------------------------------------------------------------------------------------


def test_owner_creates_a_sponsored_message_with_times_in_the_tenants_zone(owner_client, tenant):
    sponsor, link = _sponsor(tenant), LinkFactory(tenant=tenant)
    anglers, sailors = GroupFactory(tenant=tenant), GroupFactory(tenant=tenant)

    response = owner_client.post(
        _url(tenant, "new/"),
        _form(sponsor, mode="scheduled", post_times="17:30, 09:00", link=str(link.pk), ends_at="2025-07-01T00:00",
              daily_cap_per_group="2", groups=[str(anglers.pk), str(sailors.pk)]),
    )  # fmt: skip

    assert response.status_code == 302
    assert response["Location"] == _url(tenant)
    creative = Creative.objects.get(tenant=tenant)
    assert (creative.source, creative.text, creative.mode, creative.post_times, creative.link) == (
        sponsor, "20% off kayaks", "scheduled", ["09:00", "17:30"], link,
    )  # fmt: skip
    assert creative.starts_at == datetime(2025, 6, 1, 13, 0, tzinfo=UTC)  # 09:00 in New York (EDT)
    assert creative.ends_at == datetime(2025, 7, 1, 4, 0, tzinfo=UTC)
    assert creative.daily_cap_per_group == 2
    assert set(creative.groups.all()) == {anglers, sailors}


def test_new_sponsored_message_form_has_a_label_for_every_field(owner_client, tenant):
    _sponsor(tenant)
    GroupFactory(tenant=tenant, name="Lake Anglers")

    response = owner_client.get(_url(tenant, "new/"))

    page = response.content.decode()
    assert response.status_code == 200
    for name in ("source", "name", "text", "link", "mode", "post_times", "starts_at", "ends_at",
                 "daily_cap_per_group", "is_active", "groups_0"):  # fmt: skip
        assert f'for="id_{name}"' in page
    assert "<legend>Groups</legend>" in page


def test_new_sponsored_message_without_a_sponsor_points_to_adding_one(owner_client, tenant):
    page = owner_client.get(_url(tenant, "new/")).content.decode()

    assert f'href="/t/{tenant.slug}/money/sources/new/?kind=sponsorship"' in page


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"mode": "scheduled"}, "post_times", "A scheduled creative needs at least one post time."),
        ({"mode": "scheduled", "post_times": "9am"}, "post_times", 'Not a "HH:MM" time of day (00:00 to 23:59): 9am.'),
        ({"ends_at": "2025-05-01T09:00"}, "ends_at", "After starts_at."),
        ({"daily_cap_per_group": "0"}, "daily_cap_per_group", "At least 1; deactivate the creative to pause it."),
        ({"text": ""}, "text", "This field is required."),
        ({"starts_at": "someday"}, "starts_at", "A date and time, e.g. 2025-06-01 09:00."),
    ],
)
def test_sponsored_message_with_bad_input_is_400_inline_and_creates_nothing(
    owner_client, tenant, fields, field, message
):
    response = owner_client.post(_url(tenant, "new/"), _form(_sponsor(tenant), **fields))

    assert response.status_code == 400
    assert response.context["form"].errors[field] == [message]
    assert escape(message) in response.content.decode()
    assert not Creative.objects.exists()


@pytest.mark.parametrize("whose", ["not a sponsor", "another tenant's sponsor"])
def test_sponsored_message_must_belong_to_one_of_the_tenants_sponsors(owner_client, tenant, other_tenant, whose):
    source = (MonetizationSourceFactory(tenant=tenant, kind="affiliate") if whose == "not a sponsor"
              else _sponsor(other_tenant))  # fmt: skip

    response = owner_client.post(_url(tenant, "new/"), _form(source))

    assert response.status_code == 400
    assert "source" in response.context["form"].errors
    assert not Creative.objects.exists()


def test_sponsored_message_cannot_target_another_tenants_group(owner_client, tenant, other_tenant):
    theirs = GroupFactory(tenant=other_tenant)

    response = owner_client.post(_url(tenant, "new/"), _form(_sponsor(tenant), groups=[str(theirs.pk)]))

    assert response.status_code == 400
    assert "groups" in response.context["form"].errors
    assert not Creative.objects.exists()


# --- Edit and delete -------------------------------------------------------------------------------------------------


def test_owner_edits_a_sponsored_message(owner_client, tenant):
    sponsor = _sponsor(tenant)
    creative = CreativeFactory(
        tenant=tenant, source=sponsor, name="Old", starts_at=datetime(2025, 6, 1, 13, tzinfo=UTC)
    )
    creative.groups.set([GroupFactory(tenant=tenant)])

    form = owner_client.get(_url(tenant, f"{creative.pk}/"))
    response = owner_client.post(_url(tenant, f"{creative.pk}/"),
                                 _form(sponsor, name="New", text="30% off", daily_cap_per_group="5"))  # fmt: skip

    assert form.status_code == 200
    assert 'value="2025-06-01T09:00"' in form.content.decode()  # shown in the tenant's zone
    assert response.status_code == 302
    creative.refresh_from_db()
    assert (creative.name, creative.text, creative.daily_cap_per_group) == ("New", "30% off", 5)
    assert list(creative.groups.all()) == []  # none ticked: every group


def test_sponsored_message_edit_with_bad_input_is_400_and_changes_nothing(owner_client, tenant):
    sponsor = _sponsor(tenant)
    creative = CreativeFactory(tenant=tenant, source=sponsor, name="Kept")

    response = owner_client.post(_url(tenant, f"{creative.pk}/"),
                                 _form(sponsor, name="Changed", mode="scheduled", post_times="25:00"))  # fmt: skip

    assert response.status_code == 400
    assert "post_times" in response.context["form"].errors
    creative.refresh_from_db()
    assert (creative.name, creative.mode) == ("Kept", "reply")


def test_owner_deletes_a_sponsored_message_never_shown(owner_client, tenant):
    creative = CreativeFactory(tenant=tenant)

    response = owner_client.post(_url(tenant, f"{creative.pk}/delete/"))

    assert response.status_code == 302
    assert not Creative.objects.filter(pk=creative.pk).exists()


def test_a_sponsored_message_that_was_shown_is_kept_and_the_page_says_why(owner_client, tenant):
    creative = CreativeFactory(tenant=tenant)
    _shown(creative, GroupFactory(tenant=tenant), members=5, day=date(2025, 1, 1))

    response = owner_client.post(_url(tenant, f"{creative.pk}/delete/"))

    assert response.status_code == 400
    assert "deactivate it instead" in response.content.decode()
    assert Creative.objects.filter(pk=creative.pk).exists()


def test_sponsored_message_delete_is_post_only(owner_client, tenant):
    creative = CreativeFactory(tenant=tenant)

    assert owner_client.get(_url(tenant, f"{creative.pk}/delete/")).status_code == 405
    assert Creative.objects.filter(pk=creative.pk).exists()


def test_analysts_cannot_create_edit_or_delete_sponsored_messages(analyst_client, tenant):
    sponsor = _sponsor(tenant)
    creative = CreativeFactory(tenant=tenant, source=sponsor, name="Kept")

    read = analyst_client.get(_url(tenant, f"{creative.pk}/"))
    responses = [
        analyst_client.post(_url(tenant, "new/"), _form(sponsor)),
        analyst_client.post(_url(tenant, f"{creative.pk}/"), _form(sponsor, name="Changed")),
        analyst_client.post(_url(tenant, f"{creative.pk}/delete/")),
    ]

    assert read.status_code == 200
    assert [response.status_code for response in responses] == [403, 403, 403]
    creative.refresh_from_db()
    assert creative.name == "Kept"
    assert Creative.objects.count() == 1
