import pytest

from groups.tests.factories import GroupFactory, MemberFactory

pytestmark = pytest.mark.django_db


def test_groups_list_with_their_counters(api, tenant):
    GroupFactory(tenant=tenant, name="Anglers", member_count=3, message_count=42)

    [group] = api.get("/api/v1/groups/").json()["results"]

    assert (group["name"], group["member_count"], group["message_count"]) == ("Anglers", 3, 42)


def test_members_filter_by_group(api, tenant):
    anglers, bakers = GroupFactory(tenant=tenant), GroupFactory(tenant=tenant)
    ana = MemberFactory(tenant=tenant, group=anglers, nickname="Ana")
    MemberFactory(tenant=tenant, group=bakers)

    rows = api.get("/api/v1/members/", {"group": str(anglers.pk)}).json()["results"]

    assert [(row["id"], row["nickname"]) for row in rows] == [(str(ana.pk), "Ana")]
    assert api.get("/api/v1/members/", {"group": "not-a-uuid"}).status_code == 400


def test_members_list_in_a_constant_number_of_queries(api, tenant, django_assert_num_queries):
    for _ in range(8):
        MemberFactory(tenant=tenant)
    api.get("/api/v1/members/")  # the key's first use records last_used_at
    with django_assert_num_queries(2):  # key lookup, members page
        assert len(api.get("/api/v1/members/").json()["results"]) == 8
