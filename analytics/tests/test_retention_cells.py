"""Retention cells and first active days, kept by the KPI job span by span, equal a direct computation from the
messages however the spans come: out of order, repeated, after a message is deleted."""

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.models import MemberFirstDay, RetentionCell
from analytics.periods import period_start
from analytics.services import kpi_aggregate_tenant, kpi_days_rebuild
from bots.tests.factories import BotFactory
from groups.models import Message
from groups.tests.factories import GroupFactory, MemberFactory, MessageFactory
from tenants.tests.factories import TenantFactory

pytestmark = pytest.mark.django_db

CHICAGO = ZoneInfo("America/Chicago")
BASE = datetime(2026, 8, 3, 12, tzinfo=UTC)  # a Monday

steps = st.lists(
    st.one_of(
        # messages of one member: (day offset, hour, bot, member) ...
        st.lists(
            st.tuples(
                st.integers(min_value=0, max_value=70),
                st.integers(min_value=0, max_value=23),
                st.integers(min_value=0, max_value=1),
                st.integers(min_value=0, max_value=3),
            ),
            min_size=1,
            max_size=6,
        ),
        # ... or the deletion of one of the messages so far (its index, modulo their number)
        st.integers(min_value=0, max_value=1_000),
    ),
    min_size=1,
    max_size=8,
)


def _direct(tenant):
    """First days and (group, cohort, week) -> distinct members, straight from the members' messages."""
    days: dict[tuple, set[date]] = defaultdict(set)
    for member_id, group_id, sent_at in Message.objects.filter(tenant=tenant, sender_type="user").values_list(
        "member_id", "group_id", "sent_at"
    ):
        days[(member_id, group_id)].add(sent_at.astimezone(tenant.time_zone).date())
    firsts = {member_id: min(active) for (member_id, _), active in days.items()}
    cells: dict[tuple, set] = defaultdict(set)
    for (member_id, group_id), active in days.items():
        cohort = period_start(firsts[member_id], "week")
        for day in active:
            cells[(group_id, cohort, period_start(day, "week"))].add(member_id)
    return firsts, {key: len(members) for key, members in cells.items()}


def _stored(tenant):
    firsts = dict(MemberFirstDay.objects.filter(tenant=tenant).values_list("member_id", "day"))
    cells = {}
    for group_id, cohort, week, weeks_after, members in RetentionCell.objects.filter(tenant=tenant).values_list(
        "group_id", "cohort", "week", "weeks_after", "members"
    ):
        assert weeks_after == (week - cohort).days // 7
        cells[(group_id, cohort, week)] = members
    return firsts, cells


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(script=steps)
def test_cells_kept_span_by_span_equal_a_direct_computation(script):
    tenant = TenantFactory(time_zone=CHICAGO)
    bots = [BotFactory(tenant=tenant, group=GroupFactory(tenant=tenant)) for _ in range(2)]
    members = [[MemberFactory(tenant=tenant, group=bot.group) for _ in range(4)] for bot in bots]
    sent: list[Message] = []
    for step in script:
        if isinstance(step, int):
            if not sent:
                continue
            gone = sent.pop(step % len(sent))
            gone.delete()
            touched = {gone.sent_at.astimezone(CHICAGO).date()}
        else:
            touched = set()
            for offset, hour, which, who in step:
                at = BASE + timedelta(days=offset, hours=hour)
                bot = bots[which]
                sent.append(
                    MessageFactory(tenant=tenant, group=bot.group, bot=bot, member=members[which][who], sent_at=at)
                )
                touched.add(at.astimezone(CHICAGO).date())
        # What the job does with the days a step touched: each rebuilt on its own, latest first (out of order).
        for day in sorted(touched, reverse=True):
            kpi_days_rebuild(tenant=tenant, first=day, last=day)
        assert _stored(tenant) == _direct(tenant)

    kpi_aggregate_tenant(tenant=tenant, full=True)  # and a full rebuild agrees
    assert _stored(tenant) == _direct(tenant)


def test_a_members_earlier_message_arriving_late_moves_them_to_an_earlier_cohort(tenant):
    tenant.time_zone = CHICAGO
    tenant.save()
    bot = BotFactory(tenant=tenant, group=GroupFactory(tenant=tenant))
    member = MemberFactory(tenant=tenant, group=bot.group)
    later, earlier = date(2026, 9, 16), date(2026, 9, 2)
    for day in (later, earlier):
        MessageFactory(tenant=tenant, group=bot.group, bot=bot, member=member,
                       sent_at=datetime(day.year, day.month, day.day, 12, tzinfo=CHICAGO))  # fmt: skip
        kpi_days_rebuild(tenant=tenant, first=day, last=day)

    assert MemberFirstDay.objects.get(member=member).day == earlier
    assert set(RetentionCell.objects.filter(tenant=tenant).values_list("cohort", "weeks_after", "members")) == {
        (date(2026, 8, 31), 0, 1),
        (date(2026, 8, 31), 2, 1),
    }


def test_a_member_no_longer_active_on_their_first_day_moves_to_their_next_day_in_the_next_year(tenant):
    tenant.time_zone = CHICAGO
    tenant.save()
    bot = BotFactory(tenant=tenant, group=GroupFactory(tenant=tenant))
    member = MemberFactory(tenant=tenant, group=bot.group)
    days = (date(2025, 12, 31), date(2026, 1, 2), date(2026, 3, 4))
    sent = [
        MessageFactory(tenant=tenant, group=bot.group, bot=bot, member=member,
                       sent_at=datetime(day.year, day.month, day.day, 12, tzinfo=CHICAGO))
        for day in days
    ]  # fmt: skip
    kpi_aggregate_tenant(tenant=tenant, full=True)
    assert MemberFirstDay.objects.get(member=member).day == days[0]

    sent[0].delete()  # the first day now has no message: the next one is in the member's next year
    kpi_days_rebuild(tenant=tenant, first=days[0], last=days[0])
    assert MemberFirstDay.objects.get(member=member).day == days[1]

    sent[1].delete()  # and the one after it later in the same year
    kpi_days_rebuild(tenant=tenant, first=days[1], last=days[1])
    assert MemberFirstDay.objects.get(member=member).day == days[2]
    assert _stored(tenant) == _direct(tenant)

    sent[2].delete()
    kpi_days_rebuild(tenant=tenant, first=days[2], last=days[2])
    assert not MemberFirstDay.objects.filter(member=member).exists()
    assert _stored(tenant) == _direct(tenant) == ({}, {})
