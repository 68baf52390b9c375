"""The Groups & members pages: the groups list and a group with its members (search, sort, opt-out filter)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from django.utils.html import escape

from bots.tests.factories import BotFactory
from groups.tests.factories import GroupFactory, MemberFactory
from tenants.models import Role
from tenants.tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def _list_url(tenant):
    return f"/t/{tenant.slug}/groups/"


def _detail_url(group, **query):
    suffix = "&".join(f"{name}={value}" for name, value in query.items())
    return f"/t/{group.tenant.slug}/groups/{group.pk}/" + (f"?{suffix}" if suffix else "")


def _nicknames(response):
    return [member.nickname for member in response.context["members"]]


# --- Groups list -------------------------------------------------------------------------------------------------


def test_groups_list_shows_each_groups_counters_bot_and_a_link_to_it(owner_client, tenant, other_tenant):
    group = GroupFactory(tenant=tenant, name="Lake Anglers", groupme_group_id="777001", member_count=42,
                         message_count=1234, last_message_at=timezone.now())  # fmt: skip
    BotFactory(tenant=tenant, group=group, name="Tackle Bot")
    GroupFactory(tenant=other_tenant, name="Bakers Only")

    response = owner_client.get(_list_url(tenant))

    page = response.content.decode()
    assert response.status_code == 200
    assert "Lake Anglers" in page
    assert "777001" in page
    assert "Tackle Bot" in page
    assert ">42<" in page
    assert ">1234<" in page
    assert f'href="/t/{tenant.slug}/groups/{group.pk}/"' in page
    assert "Bakers Only" not in page
    assert response.context["nav_section"] == "groups"


def test_groups_list_leaves_out_deleted_bots(owner_client, tenant):
    group = GroupFactory(tenant=tenant)
    BotFactory(tenant=tenant, group=group, name="Retired Bot", deleted_at=timezone.now())

    page = owner_client.get(_list_url(tenant)).content.decode()

    assert "Retired Bot" not in page
    assert "No bot" in page


def test_groups_list_without_groups_says_what_to_do_next(owner_client, tenant):
    page = owner_client.get(_list_url(tenant)).content.decode()

    assert "No groups yet" in page
    assert f'href="/t/{tenant.slug}/bots/"' in page


@pytest.mark.parametrize("rows", [3, 30])
def test_groups_list_answers_in_a_bounded_number_of_queries(owner_client, tenant, rows, django_assert_max_num_queries):
    for _ in range(rows):
        BotFactory(tenant=tenant, group=GroupFactory(tenant=tenant, last_message_at=timezone.now()))
    # session, user, membership + tenant, the switcher's memberships, count, groups, their bots
    with django_assert_max_num_queries(7):
        response = owner_client.get(_list_url(tenant))
    assert len(response.context["groups"]) == rows


# --- Group detail: facts and members -----------------------------------------------------------------------------


def test_group_page_shows_the_groups_facts_and_links_to_its_interactions(owner_client, tenant):
    group = GroupFactory(tenant=tenant, name="Lake Anglers", groupme_group_id="777001", member_count=7,
                         message_count=99)  # fmt: skip
    BotFactory(tenant=tenant, group=group, name="Tackle Bot")

    response = owner_client.get(_detail_url(group))

    page = response.content.decode()
    assert response.status_code == 200
    assert "<h1>Lake Anglers</h1>" in page
    assert "777001" in page
    assert "Tackle Bot" in page
    assert f"/t/{tenant.slug}/interactions/?group={group.pk}" in page


def test_members_show_presence_engagement_counts_and_opt_out_with_its_date(owner_client, tenant):
    group = GroupFactory(tenant=tenant)
    now = timezone.now()
    MemberFactory(tenant=tenant, group=group, nickname="Ana", message_count=12, engagement_score=3.5, last_seen_at=now)
    MemberFactory(tenant=tenant, group=group, nickname="Ben", is_present=False)
    MemberFactory(tenant=tenant, group=group, nickname="Cy", opted_out_at=datetime(2025, 3, 14, 12, tzinfo=UTC))

    page = owner_client.get(_detail_url(group)).content.decode()

    assert page.count('<span class="badge ok">Present</span>') == 2
    assert page.count('<span class="badge">Left</span>') == 1
    assert "3.50" in page  # seen just now: the score has not decayed
    assert ">12<" in page
    assert page.count('<span class="badge warn">Opted out</span>') == 1
    assert "2025-03-14" in page


def test_members_link_to_their_interactions(owner_client, tenant):
    member = MemberFactory(tenant=tenant)

    page = owner_client.get(_detail_url(member.group)).content.decode()

    assert f"/t/{tenant.slug}/interactions/?member={member.pk}" in page


def test_members_are_searched_by_nickname(owner_client, tenant):
    group = GroupFactory(tenant=tenant)
    for nickname in ("Anabel", "Hannah", "Bob"):
        MemberFactory(tenant=tenant, group=group, nickname=nickname)

    response = owner_client.get(_detail_url(group, q="ANN"))

    assert sorted(_nicknames(response)) == ["Hannah"]
    assert 'value="ANN"' in response.content.decode()  # the search box keeps what was searched


def test_members_most_engaged_first_by_default_counting_how_long_ago_they_were_active(owner_client, tenant):
    group = GroupFactory(tenant=tenant)
    now = timezone.now()
    # Busy ten weeks ago (ten half-lives: 40 decays to 0.04) versus a little active today.
    MemberFactory(tenant=tenant, group=group, nickname="Faded", engagement_score=40.0,
                  last_seen_at=now - timedelta(days=140))  # fmt: skip
    MemberFactory(tenant=tenant, group=group, nickname="Regular", engagement_score=2.0, last_seen_at=now)
    MemberFactory(tenant=tenant, group=group, nickname="Quiet", engagement_score=0.0, last_seen_at=now)

    response = owner_client.get(_detail_url(group))

    assert _nicknames(response) == ["Regular", "Faded", "Quiet"]
    faded = response.context["members"][1]
    assert faded.engagement_now == pytest.approx(40.0 / 1024, rel=1e-3)


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("engagement", ["cara", "Abe", "Bea"]),
        ("-engagement", ["Bea", "Abe", "cara"]),
        ("name", ["Abe", "Bea", "cara"]),
        ("last_seen", ["Bea", "cara", "Abe"]),
        ("-last_seen", ["Abe", "cara", "Bea"]),
    ],
)
def test_members_sort_by_each_offered_order(owner_client, tenant, sort, expected):
    group = GroupFactory(tenant=tenant)
    now = timezone.now()
    MemberFactory(tenant=tenant, group=group, nickname="Abe", engagement_score=2.0, last_seen_at=now)
    MemberFactory(
        tenant=tenant, group=group, nickname="Bea", engagement_score=9.0, last_seen_at=now - timedelta(hours=2)
    )
    MemberFactory(
        tenant=tenant, group=group, nickname="cara", engagement_score=1.0, last_seen_at=now - timedelta(hours=1)
    )

    response = owner_client.get(_detail_url(group, sort=sort))

    assert _nicknames(response) == expected


@pytest.mark.parametrize(("opted_out", "expected"), [("true", ["Gone"]), ("false", ["Stays"])])
def test_members_filter_on_opt_out(owner_client, tenant, opted_out, expected):
    group = GroupFactory(tenant=tenant)
    MemberFactory(tenant=tenant, group=group, nickname="Gone", opted_out_at=timezone.now())
    MemberFactory(tenant=tenant, group=group, nickname="Stays")

    assert _nicknames(owner_client.get(_detail_url(group, opted_out=opted_out))) == expected


def test_members_of_other_groups_are_not_listed(owner_client, tenant):
    group = GroupFactory(tenant=tenant)
    MemberFactory(tenant=tenant, group=group, nickname="Mine")
    MemberFactory(tenant=tenant, nickname="Elsewhere")

    assert _nicknames(owner_client.get(_detail_url(group))) == ["Mine"]


@pytest.mark.parametrize(
    ("query", "message"),
    [({"sort": "loudest"}, "Sort by one of"), ({"opted_out": "maybe"}, "Opt-out is true or false")],
)
def test_bad_member_filters_are_a_400_naming_the_problem(owner_client, tenant, query, message):
    group = GroupFactory(tenant=tenant)
    MemberFactory(tenant=tenant, group=group, nickname="Hidden")

    response = owner_client.get(_detail_url(group, **query))

    assert response.status_code == 400
    page = response.content.decode()
    assert message in page
    assert "Hidden" not in page


def test_members_are_paginated_by_fifty_keeping_the_filters(owner_client, tenant):
    group = GroupFactory(tenant=tenant)
    for index in range(51):
        MemberFactory(tenant=tenant, group=group, nickname=f"Member {index:02}")

    first = owner_client.get(_detail_url(group, sort="name"))
    second = owner_client.get(_detail_url(group, sort="name", page=2))

    assert len(first.context["members"]) == 50
    assert _nicknames(second) == ["Member 50"]
    assert "?sort=name&amp;page=2" in first.content.decode()


def test_filtering_to_nobody_says_so(owner_client, tenant):
    group = GroupFactory(tenant=tenant)
    MemberFactory(tenant=tenant, group=group, nickname="Ana")

    page = owner_client.get(_detail_url(group, q="zzz")).content.decode()

    assert "No member matches these filters" in page


def test_another_tenants_group_is_not_found(owner_client, tenant, other_tenant):
    theirs = GroupFactory(tenant=other_tenant, name="Bakers Only")

    response = owner_client.get(f"/t/{tenant.slug}/groups/{theirs.pk}/")

    assert response.status_code == 404
    assert escape("Bakers Only") not in response.content.decode()


def test_an_analyst_reads_both_pages_and_cannot_post(client, tenant):
    group = GroupFactory(tenant=tenant, name="Lake Anglers")
    MemberFactory(tenant=tenant, group=group, nickname="Ana")
    client.force_login(MembershipFactory(tenant=tenant, user=UserFactory(), role=Role.ANALYST).user)

    assert "Lake Anglers" in client.get(_list_url(tenant)).content.decode()
    assert "Ana" in client.get(_detail_url(group)).content.decode()
    assert client.post(_detail_url(group)).status_code == 403


@pytest.mark.parametrize("rows", [3, 30])
def test_group_page_answers_in_a_bounded_number_of_queries(owner_client, tenant, rows, django_assert_max_num_queries):
    group = GroupFactory(tenant=tenant)
    BotFactory(tenant=tenant, group=group)
    for _ in range(rows):
        MemberFactory(tenant=tenant, group=group, opted_out_at=timezone.now())
    # session, user, membership + tenant, the switcher's memberships, the group, its bots, count, members
    with django_assert_max_num_queries(8):
        response = owner_client.get(_detail_url(group, sort="-last_seen", opted_out="true", q=""))
    assert len(response.context["members"]) == rows
