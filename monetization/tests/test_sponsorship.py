"""Sponsored messages: disclosed lines on replies and on a schedule, capped per group per local day, reported."""

import threading
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from bots import groupme
from bots.models import Interaction
from bots.outbox import ECHO_WAIT
from bots.services import reply_give_up
from bots.tests.factories import BotFactory, InteractionFactory
from groups.models import Group, Message
from groups.tests.factories import GroupFactory, MemberFactory, MessageFactory
from monetization.models import Click, Creative, InteractionLink, SponsoredImpression
from monetization.services import interaction_link_url, link_create, source_create
from monetization.sponsorship import (
    SponsoredPostRetryLater,
    creative_create,
    sponsor_performance,
    sponsored_line_for_reply,
    sponsored_post_send,
    sponsored_posts_due,
)
from monetization.tasks import post_scheduled_sponsored_messages
from monetization.tests.factories import ClickFactory, ConversionFactory, CreativeFactory

pytestmark = pytest.mark.django_db

CHICAGO = ZoneInfo("America/Chicago")
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


def _sponsor(tenant, name="Lakeside Outfitters"):
    return source_create(tenant=tenant, name=name, kind="sponsorship")


def _creative(tenant, *, source=None, text="20% off kayaks", **fields):
    fields.setdefault("starts_at", LONG_AGO)
    return creative_create(tenant=tenant, source=source or _sponsor(tenant), text=text, **fields)


def _bot(tenant, **fields):
    return BotFactory(tenant=tenant, group=GroupFactory(tenant=tenant), **fields)


def _reply(bot, *, at=None, member=None):
    """A bot interaction in the bot's group, and the line sponsorship adds to its reply."""
    extra = {"member": member} if member is not None else {}
    interaction = InteractionFactory(tenant=bot.tenant, bot=bot, message__sent_at=at or timezone.now(), **extra)
    return interaction, sponsored_line_for_reply(interaction=interaction, member=interaction.member)


def _set_member_count(group, count):
    Group.objects.filter(pk=group.pk).update(member_count=count)  # the in-memory group keeps its stale count


# --- Replies ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("wording", "shown"), [("#ad", "#ad"), ("Sponsored", "Sponsored"), ("  ", "#ad")])
def test_a_reply_gets_the_disclosed_line_with_a_link_tracked_to_the_interaction(client, tenant, wording, shown):
    tenant.ad_disclosure = wording
    tenant.save()
    link = link_create(tenant=tenant, destination_url="https://lakeside.example/kayaks")
    _creative(tenant, link=link)
    bot = _bot(tenant)
    _set_member_count(bot.group, 42)

    interaction, line = _reply(bot)

    code = InteractionLink.objects.get(interaction=interaction, link=link).code
    assert line == f"{shown} Lakeside Outfitters: 20% off kayaks {settings.PUBLIC_BASE_URL}/l/{code}"
    impression = SponsoredImpression.objects.get()
    assert (impression.interaction, impression.group, impression.member_count) == (interaction, bot.group, 42)
    assert impression.text == line
    client.get(urlsplit(line.split()[-1]).path, HTTP_USER_AGENT="Mozilla/5.0 (iPhone)")
    assert Click.objects.get().interaction == interaction


def test_a_creative_without_a_link_is_text_only(tenant):
    _creative(tenant, text="Visit us on Main Street")
    assert _reply(_bot(tenant))[1] == "#ad Lakeside Outfitters: Visit us on Main Street"


def test_opted_out_members_never_get_a_sponsored_line(tenant):
    _creative(tenant)
    bot = _bot(tenant)
    member = MemberFactory(tenant=tenant, group=bot.group, opted_out_at=timezone.now())

    assert _reply(bot, member=member)[1] == ""
    assert not SponsoredImpression.objects.exists()
    assert _reply(bot)[1].startswith("#ad ")  # the next member, who did not opt out, does get it


def test_only_live_creatives_aimed_at_the_group_are_shown(tenant):
    bot, elsewhere = _bot(tenant), GroupFactory(tenant=tenant)
    _creative(tenant, text="aimed elsewhere", groups=[elsewhere])
    _creative(tenant, text="ended", ends_at=timezone.now() - timedelta(hours=1))
    _creative(tenant, text="paused", is_active=False)
    _creative(tenant, text="scheduled only", mode="scheduled", post_times=["09:00"])
    inactive_sponsor = _sponsor(tenant, name="Gone")
    inactive_sponsor.is_active = False
    inactive_sponsor.save()
    _creative(tenant, source=inactive_sponsor, text="sponsor inactive")
    assert _reply(bot)[1] == ""

    _creative(tenant, text="aimed here", groups=[bot.group])
    assert _reply(bot)[1] == "#ad Lakeside Outfitters: aimed here"


def test_the_cap_is_per_group_per_day_in_the_tenants_time_zone(tenant):
    tenant.time_zone = CHICAGO
    tenant.save()
    _creative(tenant, daily_cap_per_group=2)
    bot, other_bot = _bot(tenant), _bot(tenant)
    # All four replies fall on the UTC date 2026-01-16; in Chicago (UTC-6) the last one is the next day.
    local = [datetime(2026, 1, 15, 18, 30), datetime(2026, 1, 15, 22, 0), datetime(2026, 1, 15, 23, 30),
             datetime(2026, 1, 16, 0, 30)]  # fmt: skip
    moments = [moment.replace(tzinfo=CHICAGO) for moment in local]
    assert {moment.astimezone(UTC).date() for moment in moments} == {date(2026, 1, 16)}

    lines = [_reply(bot, at=moment)[1] for moment in moments]

    assert [bool(line) for line in lines] == [True, True, False, True]
    assert _reply(other_bot, at=moments[2])[1]  # the cap is per group: another group still gets one that evening
    days = SponsoredImpression.objects.filter(group=bot.group).values_list("local_date", flat=True)
    assert sorted(days) == [date(2026, 1, 15), date(2026, 1, 15), date(2026, 1, 16)]


def test_rotation_shows_the_creative_seen_least_today_first(tenant):
    sponsor = _sponsor(tenant)
    _creative(tenant, source=sponsor, text="kayaks", daily_cap_per_group=2)
    _creative(tenant, source=sponsor, text="paddles", daily_cap_per_group=3)
    bot = _bot(tenant)

    texts = [_reply(bot)[1].removeprefix("#ad Lakeside Outfitters: ") for _ in range(6)]

    assert texts == ["kayaks", "paddles", "kayaks", "paddles", "paddles", ""]


def test_privacy_confirmations_carry_no_sponsored_line(tenant):
    _creative(tenant)
    interaction = InteractionFactory(tenant=tenant, bot=_bot(tenant), intent="optin")
    assert sponsored_line_for_reply(interaction=interaction, member=interaction.member) == ""


def test_a_line_whose_reply_finally_failed_was_never_shown_and_frees_its_place_under_the_cap(tenant):
    _creative(tenant, daily_cap_per_group=1)
    bot = _bot(tenant)
    failed, line = _reply(bot)
    Interaction.objects.filter(pk=failed.pk).update(reply_status="pending")
    assert line
    assert not _reply(bot)[1]  # the cap is taken

    reply_give_up(tenant_id=tenant.pk, interaction_id=failed.pk, reason="HTTP 400")

    assert SponsoredImpression.objects.get(interaction=failed).status == "failed"
    assert _reply(bot)[1]  # the day's one line, shown this time


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_replies_in_a_group_never_exceed_the_cap(tenant, wait_for):
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL (SQLite serializes every writer anyway)")
    _creative(tenant, daily_cap_per_group=1)
    bot = _bot(tenant)
    first, second = (InteractionFactory(tenant=tenant, bot=bot) for _ in range(2))
    lines = []
    holding, release = threading.Event(), threading.Event()

    def reply(interaction, *, hold):
        try:
            with transaction.atomic():  # as in message processing: the line is decided inside its transaction
                lines.append(sponsored_line_for_reply(interaction=interaction, member=interaction.member))
                if hold:
                    holding.set()
                    release.wait(20)
        finally:
            connection.close()

    first_thread = threading.Thread(target=reply, args=(first,), kwargs={"hold": True})
    first_thread.start()
    assert holding.wait(20)
    second_thread = threading.Thread(target=reply, args=(second,), kwargs={"hold": False})
    second_thread.start()

    def waiting_on_a_lock():
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                           "AND wait_event_type = 'Lock'")  # fmt: skip
            return cursor.fetchone()[0] > 0

    wait_for(lambda: not second_thread.is_alive() or waiting_on_a_lock(), message="the second reply to block")
    release.set()
    first_thread.join(20)
    second_thread.join(20)

    assert sorted(bool(line) for line in lines) == [False, True]
    assert SponsoredImpression.objects.count() == 1


# --- Scheduled posts -------------------------------------------------------------------------------------------------


def _due_now(tenant):
    """The current minute in the tenant's zone as a post time: due at once, within the job's look-back."""
    return timezone.now().astimezone(tenant.time_zone).strftime("%H:%M")


def test_a_scheduled_post_goes_out_once_per_slot_even_when_the_job_runs_twice(tenant, fake_groupme):
    bot = _bot(tenant)
    _set_member_count(bot.group, 17)
    link = link_create(tenant=tenant, destination_url="https://lakeside.example/")
    creative = _creative(tenant, mode="scheduled", post_times=[_due_now(tenant)], link=link)

    post_scheduled_sponsored_messages()
    post_scheduled_sponsored_messages()

    expected = f"#ad Lakeside Outfitters: 20% off kayaks {settings.PUBLIC_BASE_URL}/l/{link.code}"
    assert [(post["bot_id"], post["text"]) for post in fake_groupme.posts] == [(bot.groupme_bot_id, expected)]
    impression = SponsoredImpression.objects.get()
    assert (impression.creative, impression.status, impression.member_count) == (creative, "sent", 17)
    # The send task itself, run again for the same slot (a redelivered message), posts nothing either.
    sponsored_post_send(tenant_id=tenant.pk, creative_id=creative.pk, group_id=bot.group_id,
                        local_date=impression.local_date, slot=impression.slot)  # fmt: skip
    assert len(fake_groupme.posts) == 1


def test_a_503_is_retried_and_the_post_recorded_once(tenant, fake_groupme):
    _bot(tenant)
    _creative(tenant, mode="scheduled", post_times=[_due_now(tenant)])
    fake_groupme.add_fault(path="/v3/bots/post", status=503, times=1)

    post_scheduled_sponsored_messages()

    assert len(fake_groupme.wait_for_posts(1)) == 1
    impression = SponsoredImpression.objects.get()
    assert (impression.status, impression.attempts) == ("sent", 2)


def test_a_post_groupme_keeps_refusing_is_kept_as_failed_and_never_reposted(tenant, fake_groupme, settings):
    settings.BOTS_REPLY_MAX_RETRIES = 1
    _bot(tenant)
    _creative(tenant, mode="scheduled", post_times=[_due_now(tenant)])
    fake_groupme.add_fault(path="/v3/bots/post", status=503, times=None)

    post_scheduled_sponsored_messages()
    fake_groupme.clear_faults()
    post_scheduled_sponsored_messages()

    impression = SponsoredImpression.objects.get()
    assert (impression.status, impression.attempts, impression.last_status_code) == ("failed", 2, 503)
    assert fake_groupme.posts == []
    assert (
        sponsor_performance(tenant=tenant, start=impression.local_date, end=impression.local_date)[0]["impressions"]
        == 0
    )


def test_groups_whose_bot_cannot_post_are_skipped(tenant, fake_groupme):
    live = _bot(tenant)
    _bot(tenant, breaker_open_until=timezone.now() + timedelta(minutes=5))
    _bot(tenant, is_active=False)
    _bot(tenant, deleted_at=timezone.now(), is_active=False)
    GroupFactory(tenant=tenant)  # no bot at all
    _creative(tenant, mode="scheduled", post_times=[_due_now(tenant)])

    post_scheduled_sponsored_messages()

    assert [post["bot_id"] for post in fake_groupme.posts] == [live.groupme_bot_id]
    assert SponsoredImpression.objects.get().group == live.group


def test_post_times_are_the_tenants_local_times(tenant):
    tenant.time_zone = CHICAGO
    tenant.save()
    bot = _bot(tenant)
    creative = _creative(tenant, mode="scheduled", post_times=["09:00", "23:58"])

    at_nine_utc = sponsored_posts_due(now=datetime(2026, 1, 15, 9, 1, tzinfo=UTC))
    at_nine_chicago = sponsored_posts_due(now=datetime(2026, 1, 15, 15, 1, tzinfo=UTC))
    # 23:58 in Chicago on the 15th is 05:58 UTC on the 16th; its local date is the 15th.
    before_midnight = sponsored_posts_due(now=datetime(2026, 1, 16, 6, 3, tzinfo=UTC))

    assert at_nine_utc == []
    assert [(due.group_id, due.local_date, due.slot) for due in at_nine_chicago] == [
        (bot.group_id, date(2026, 1, 15), "09:00")
    ]
    assert [(due.creative_id, due.local_date, due.slot) for due in before_midnight] == [
        (creative.pk, date(2026, 1, 15), "23:58")
    ]


def test_scheduled_posts_respect_the_daily_cap(tenant, fake_groupme):
    bot = _bot(tenant)
    creative = _creative(tenant, mode="scheduled", post_times=["08:00", "12:00", "18:00"], daily_cap_per_group=2)
    day = date(2026, 1, 15)

    outcomes = [
        sponsored_post_send(
            tenant_id=tenant.pk, creative_id=creative.pk, group_id=bot.group_id, local_date=day, slot=slot
        )
        for slot in creative.post_times
    ]

    assert outcomes == ["sent", "sent", "skipped: daily cap reached"]
    assert len(fake_groupme.posts) == 2


def test_a_post_whose_worker_died_is_released_and_sent_by_the_next_run(tenant, fake_groupme):
    bot = _bot(tenant)
    creative = _creative(tenant, mode="scheduled", post_times=["03:00"])
    yesterday = timezone.now().date() - timedelta(days=1)
    stuck = SponsoredImpression.objects.create(
        tenant=tenant, creative=creative, group=bot.group, local_date=yesterday, slot="03:00", text="#ad stuck",
        status="sending", attempts=1,
    )  # fmt: skip
    SponsoredImpression.objects.filter(pk=stuck.pk).update(updated_at=timezone.now() - timedelta(minutes=10))

    post_scheduled_sponsored_messages()

    assert [post["text"] for post in fake_groupme.posts] == ["#ad stuck"]
    stuck.refresh_from_db()
    assert (stuck.status, stuck.attempts) == ("sent", 2)


@pytest.fixture
def short_read_timeout(monkeypatch):
    monkeypatch.setattr(groupme, "TIMEOUT_SECONDS", (1.0, 0.3))


def _slot(tenant, bot):
    creative = _creative(tenant, mode="scheduled", post_times=["03:00"])
    return {"tenant_id": tenant.pk, "creative_id": creative.pk, "group_id": bot.group_id,
            "local_date": timezone.now().date(), "slot": "03:00"}  # fmt: skip


def _echo(bot, text):
    """What GroupMe's callback of the bot's own post leaves behind: a bot message in the group."""
    return MessageFactory(
        tenant=bot.tenant, group=bot.group, bot=bot, member=None, sender_type=Message.SenderType.BOT,
        sender_id=bot.groupme_bot_id, sender_name=bot.name, text=text, sent_at=timezone.now(),
        processed_at=timezone.now(),
    )  # fmt: skip


def test_a_post_without_an_answer_is_settled_by_groupmes_echo_not_posted_again(
    tenant, fake_groupme, short_read_timeout, wait_for
):
    bot = _bot(tenant)
    slot = _slot(tenant, bot)
    fake_groupme.add_fault(path="/v3/bots/post", delay_ms=800)  # GroupMe takes it after the client stopped waiting

    with pytest.raises(SponsoredPostRetryLater):
        sponsored_post_send(**slot)
    impression = SponsoredImpression.objects.get()
    assert impression.status == "uncertain"
    with pytest.raises(SponsoredPostRetryLater) as waiting:  # no echo yet: wait for it rather than post again
        sponsored_post_send(**slot)
    assert 0 < waiting.value.retry_after <= ECHO_WAIT.total_seconds()

    echo = _echo(bot, impression.text)
    assert sponsored_post_send(**slot) == "sent"

    impression.refresh_from_db()
    assert (impression.status, impression.sent_at, impression.attempts) == ("sent", echo.received_at, 1)
    wait_for(lambda: fake_groupme.posts, message="GroupMe to take the slow post")
    assert len(fake_groupme.posts) == 1


def test_without_an_echo_the_sponsored_post_is_made_again_once_the_wait_is_over(
    tenant, fake_groupme, short_read_timeout
):
    bot = _bot(tenant)
    slot = _slot(tenant, bot)
    fake_groupme.add_fault(path="/v3/bots/post", delay_ms=800, status=503)  # GroupMe never had it

    with pytest.raises(SponsoredPostRetryLater):
        sponsored_post_send(**slot)
    SponsoredImpression.objects.update(updated_at=timezone.now() - ECHO_WAIT - timedelta(seconds=1))

    assert sponsored_post_send(**slot) == "sent"
    assert (SponsoredImpression.objects.get().attempts, len(fake_groupme.posts)) == (2, 1)


def test_a_dead_workers_claim_becomes_uncertain_and_its_echo_settles_it(tenant, fake_groupme):
    bot = _bot(tenant)
    creative = _creative(tenant, mode="scheduled", post_times=["03:00"])
    stuck = SponsoredImpression.objects.create(
        tenant=tenant, creative=creative, group=bot.group, local_date=timezone.now().date(), slot="03:00",
        text="#ad stuck", status="sending", attempts=1,
    )  # fmt: skip
    claimed_at = timezone.now() - timedelta(minutes=10)
    SponsoredImpression.objects.filter(pk=stuck.pk).update(updated_at=claimed_at)
    _echo(bot, "#ad stuck")  # the dead worker's post had reached GroupMe

    post_scheduled_sponsored_messages()

    assert fake_groupme.posts == []
    stuck.refresh_from_db()
    assert (stuck.status, stuck.attempts) == ("sent", 1)


# --- Reporting -------------------------------------------------------------------------------------------------------


def test_sponsor_performance_counts_impressions_reach_clicks_ctr_and_revenue(client, tenant, django_assert_num_queries):
    lakeside, river = _sponsor(tenant, "Lakeside Outfitters"), _sponsor(tenant, "River Co")
    affiliate = source_create(tenant=tenant, name="Affiliate", kind="affiliate")
    reply_link = link_create(tenant=tenant, destination_url="https://lakeside.example/kayaks", source=lakeside)
    post_link = link_create(tenant=tenant, destination_url="https://lakeside.example/", source=lakeside)
    on_replies = _creative(tenant, source=lakeside, link=reply_link)
    posted = _creative(tenant, source=lakeside, link=post_link, mode="scheduled", post_times=["09:00"])
    small, large = _bot(tenant), _bot(tenant)
    _set_member_count(small.group, 10)
    _set_member_count(large.group, 20)
    today = timezone.now().astimezone(tenant.time_zone).date()
    long_ago = timezone.now() - timedelta(days=10)

    first, first_line = _reply(small)
    _, second_line = _reply(large)
    failed, _ = _reply(small)
    Interaction.objects.filter(pk=failed.pk).update(reply_status="pending")  # on its way, until GroupMe refuses it
    reply_give_up(tenant_id=tenant.pk, interaction_id=failed.pk, reason="HTTP 500")  # never seen: not an impression

    def visit(url, agent="Mozilla/5.0 (iPhone)"):
        client.get(urlsplit(url).path, HTTP_USER_AGENT=agent)

    visit(first_line.split()[-1])
    visit(first_line.split()[-1], agent="facebookexternalhit/1.1")  # a link preview, not a person
    visit(second_line.split()[-1])
    visit(second_line.split()[-1])
    ClickFactory(tenant=tenant, link=reply_link, interaction=first, clicked_at=long_ago)  # before the period
    unsponsored = InteractionFactory(tenant=tenant, bot=small)  # a rule's reply with the same link: not this ad
    visit(interaction_link_url(interaction=unsponsored, link=reply_link))
    for status, day, slot in [("sent", today, "09:00"), ("failed", today, "13:00"),
                              ("sent", today - timedelta(days=10), "09:00")]:  # fmt: skip
        SponsoredImpression.objects.create(tenant=tenant, creative=posted, group=large.group, local_date=day,
                                           slot=slot, member_count=50, text="#ad", status=status)  # fmt: skip
    visit(f"/l/{post_link.code}")  # the scheduled post's bare link
    for source, amount, currency, at in [(lakeside, 1000, "USD", None), (lakeside, -200, "USD", None),
                                         (lakeside, 500, "EUR", None), (lakeside, 700, "USD", long_ago),
                                         (river, 300, "USD", None), (affiliate, 999, "USD", None)]:  # fmt: skip
        outcome = "refund" if amount < 0 else "purchase"
        ConversionFactory(tenant=tenant, source=source, amount=amount, currency=currency, outcome=outcome,
                          occurred_at=at or timezone.now())  # fmt: skip

    # sources; creatives with their clicks; impressions and reach; revenue
    with django_assert_num_queries(4):
        rows = sponsor_performance(tenant=tenant, start=today - timedelta(days=1), end=today + timedelta(days=1))

    assert [row["source_name"] for row in rows] == ["Lakeside Outfitters", "River Co"]
    lakeside_row, river_row = rows
    by_creative = {row["creative_id"]: row for row in lakeside_row["creatives"]}
    reply_figures, post_figures = by_creative[on_replies.pk], by_creative[posted.pk]
    assert (reply_figures["impressions"], reply_figures["reach"], reply_figures["clicks"]) == (2, 30, 3)
    assert reply_figures["ctr"] == pytest.approx(0.1)
    assert (post_figures["impressions"], post_figures["reach"], post_figures["clicks"]) == (1, 50, 1)
    assert post_figures["ctr"] == pytest.approx(0.02)
    assert (lakeside_row["impressions"], lakeside_row["reach"], lakeside_row["clicks"]) == (3, 80, 4)
    assert lakeside_row["ctr"] == pytest.approx(0.05)
    assert lakeside_row["revenue"] == {"USD": 800, "EUR": 500}
    assert (river_row["impressions"], river_row["ctr"], river_row["revenue"]) == (0, 0.0, {"USD": 300})


def test_sponsor_performance_is_per_tenant(api, tenant, other_tenant, api_client_for):
    _creative(tenant)
    interaction, _ = _reply(_bot(tenant))
    day = interaction.occurred_at.astimezone(tenant.time_zone).date().isoformat()
    query = {"start": day, "end": day}

    theirs = api_client_for(other_tenant).get("/api/v1/sponsor-performance/", query)
    ours = api.get("/api/v1/sponsor-performance/", query)

    assert (theirs.status_code, theirs.json()["rows"]) == (200, [])
    assert ours.status_code == 200
    assert ours.json()["rows"][0]["impressions"] == 1
    assert ours.json()["rows"][0]["creatives"][0]["reach"] == 0


@pytest.mark.parametrize(
    ("query", "field"), [({}, "start"), ({"start": "2026-01-10", "end": "2026-01-01"}, "end"),
                         ({"start": "2026-01-01", "end": "tomorrow"}, "end")],
)  # fmt: skip
def test_sponsor_performance_needs_a_valid_period(api, query, field):
    response = api.get("/api/v1/sponsor-performance/", query)
    assert response.status_code == 400
    assert field in response.json()["fields"]


# --- API -------------------------------------------------------------------------------------------------------------


@pytest.fixture
def sponsor(tenant):
    return _sponsor(tenant)


def test_creatives_api_create_read_update_delete(api, tenant, sponsor):
    group = GroupFactory(tenant=tenant)
    link = link_create(tenant=tenant, destination_url="https://lakeside.example/")
    body = {"source": str(sponsor.pk), "text": "  20% off kayaks ", "link": str(link.pk), "groups": [str(group.pk)],
            "mode": "scheduled", "post_times": ["17:30", "09:00"], "daily_cap_per_group": 2}  # fmt: skip

    created = api.post("/api/v1/creatives/", body, format="json")

    assert created.status_code == 201, created.json()
    creative = created.json()
    assert (creative["text"], creative["post_times"], creative["groups"]) == (
        "20% off kayaks", ["09:00", "17:30"], [str(group.pk)],
    )  # fmt: skip
    url = f"/api/v1/creatives/{creative['id']}/"
    assert creative["id"] in api.get("/api/v1/creatives/").content.decode()
    assert api.get(url).json()["link"] == str(link.pk)
    patched = api.patch(url, {"groups": [], "is_active": False, "daily_cap_per_group": 5}, format="json")
    assert patched.status_code == 200, patched.json()
    assert (patched.json()["groups"], patched.json()["is_active"], patched.json()["daily_cap_per_group"]) == (
        [], False, 5,
    )  # fmt: skip
    assert api.delete(url).status_code == 204
    assert not Creative.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"text": ""}, "text"),
        ({"text": None}, "text"),
        ({"text": "x" * 501}, "text"),
        ({"post_times": ["25:00"]}, "post_times"),
        ({"post_times": ["9am"]}, "post_times"),
        ({"post_times": "09:00"}, "post_times"),
        ({"mode": "scheduled", "post_times": []}, "post_times"),
        ({"mode": "banner"}, "mode"),
        ({"daily_cap_per_group": 0}, "daily_cap_per_group"),
        ({"starts_at": "2026-02-01T00:00:00Z", "ends_at": "2026-01-01T00:00:00Z"}, "ends_at"),
    ],
)
def test_creatives_api_refuses_invalid_creatives(api, sponsor, change, field):
    body = {"source": str(sponsor.pk), "text": "20% off kayaks", **change}

    response = api.post("/api/v1/creatives/", body, format="json")

    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert not Creative.objects.exists()


def test_the_creative_services_refuse_another_tenants_source_link_and_groups(tenant, other_tenant):
    sponsor, their_sponsor = _sponsor(tenant), _sponsor(other_tenant)
    their_link = link_create(tenant=other_tenant, destination_url="https://x.example/")

    with pytest.raises(ValidationError) as refused:
        creative_create(tenant=tenant, source=their_sponsor, text="hi")
    assert "source" in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:
        creative_create(tenant=tenant, source=sponsor, text="hi", link=their_link)
    assert "link" in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:
        creative_create(tenant=tenant, source=sponsor, text="hi", groups=[GroupFactory(tenant=other_tenant)])
    assert "groups" in refused.value.message_dict
    assert not Creative.objects.exists()


def test_creatives_api_refuses_a_source_that_is_not_a_sponsorship(api, tenant):
    affiliate = source_create(tenant=tenant, name="Affiliate", kind="affiliate")

    response = api.post("/api/v1/creatives/", {"source": str(affiliate.pk), "text": "hi"}, format="json")

    assert response.status_code == 400
    assert "sponsorship" in response.json()["fields"]["source"][0]


@pytest.mark.parametrize("field", ["source", "link", "groups"])
def test_creatives_api_refuses_another_tenants_rows(api, sponsor, other_tenant, field):
    theirs = {
        "source": lambda: _sponsor(other_tenant).pk,
        "link": lambda: link_create(tenant=other_tenant, destination_url="https://x.example/").pk,
        "groups": lambda: [str(GroupFactory(tenant=other_tenant).pk)],
    }[field]()
    body = {"source": str(sponsor.pk), "text": "20% off kayaks", field: theirs if field == "groups" else str(theirs)}

    response = api.post("/api/v1/creatives/", body, format="json")

    assert response.status_code == 400
    assert field in response.json()["fields"]


def test_another_tenants_creative_does_not_exist(api, other_tenant):
    theirs = CreativeFactory(tenant=other_tenant)
    url = f"/api/v1/creatives/{theirs.pk}/"

    for method in ("get", "put", "patch", "delete"):
        assert getattr(api, method)(url, {}, format="json").status_code == 404, method
    assert str(theirs.pk) not in api.get("/api/v1/creatives/").content.decode()
    assert Creative.objects.filter(pk=theirs.pk, is_active=True).exists()


def test_a_creative_with_impressions_cannot_be_deleted(api, tenant):
    creative = _creative(tenant)
    _reply(_bot(tenant))

    response = api.delete(f"/api/v1/creatives/{creative.pk}/")

    assert response.status_code == 400
    assert "deactivate" in response.json()["detail"]
    assert Creative.objects.filter(pk=creative.pk).exists()
