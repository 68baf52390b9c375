"""Bot health (issue 5): silent bots, reply errors and 429s, the loop breaker, a failing GroupMe bot id; the API and
the daily-at-most alerts to owners. Times are fixed: NOW is 22:00 UTC, 17:00 in the tenants' New York."""

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from django.urls import path
from drf_spectacular.generators import SchemaGenerator

from analytics.api.health_views import BotHealthView
from analytics.health import bot_health, bot_health_alerts_send
from analytics.health_tasks import check_bot_health
from analytics.models import BotHealthAlert
from bots.models import Interaction, ReplyPart
from bots.tests.factories import BotFactory, InteractionFactory
from groups.models import Message
from tenants.models import Role
from tenants.tests.factories import MembershipFactory, TenantFactory, UserFactory

pytestmark = pytest.mark.django_db

# The tests own their URL configuration, so they do not depend on where the project wires the view.
urlpatterns = [path("api/v1/bot-health/", BotHealthView.as_view(), name="bot-health")]
api_urls = pytest.mark.urls(__name__)
URL = "/api/v1/bot-health/"

NOW = datetime(2026, 11, 18, 22, 0, tzinfo=UTC)
_message_ids = itertools.count(700_000_000)


def _bot(tenant, **fields):
    return BotFactory(tenant=tenant, created_at=NOW - timedelta(days=30), **fields)


def _messages(bot, times):
    Message.objects.bulk_create(
        Message(
            tenant=bot.tenant, group=bot.group, bot=bot, groupme_message_id=str(next(_message_ids)),
            sender_type=Message.SenderType.USER, text="hi", sent_at=at, received_at=at + timedelta(seconds=2),
            processed_at=at + timedelta(seconds=3),
        )
        for at in times
    )  # fmt: skip


def _every(start, end, step):
    moment = start
    while moment < end:
        yield moment
        moment += step


def _reply(bot, *, status, code=None, attempts=1, at=NOW - timedelta(hours=2)):
    """One interaction of `bot` at `at` whose single reply part ended as `status` (last GroupMe answer: `code`)."""
    reply_status = {"sent": "sent", "failed": "failed"}.get(status, "pending")
    interaction = InteractionFactory(
        tenant=bot.tenant, bot=bot, message__sent_at=at, message__received_at=at, reply_status=reply_status
    )
    part = ReplyPart.objects.create(
        tenant=bot.tenant, interaction=interaction, sequence=0, text="Here to help.", status=status,
        attempts=attempts, last_status_code=code, last_error=f"HTTP {code}" if code else "",
    )  # fmt: skip
    ReplyPart.objects.filter(pk=part.pk).update(updated_at=at + timedelta(seconds=1))
    return interaction


def _health(tenant, bot=None, now=NOW):
    results = bot_health(tenant=tenant, bots=[bot] if bot else None, now=now)
    return results[0] if bot else results


# --- Silent bots -----------------------------------------------------------------------------------------------------


def test_a_bot_whose_busy_group_stopped_calling_back_is_silent(tenant):
    bot = _bot(tenant)
    # A message every 20 minutes, day and night, until two hours ago: about 6 would have come since.
    _messages(bot, _every(NOW - timedelta(days=7), NOW - timedelta(hours=2), timedelta(minutes=20)))

    health = _health(tenant, bot)

    assert "silent" in health.condition_codes
    assert health.status == "critical"
    last_sent = NOW - timedelta(hours=2, minutes=20)
    assert health.last_callback_at == last_sent + timedelta(seconds=2)
    assert health.callback_gap_seconds == (NOW - last_sent).total_seconds() - 2
    assert health.expected_messages_in_gap == pytest.approx(7, abs=0.2)
    assert health.usual_gap_seconds == pytest.approx(1200, rel=0.02)


def test_the_same_group_heard_from_minutes_ago_is_not_silent(tenant):
    bot = _bot(tenant)
    _messages(bot, _every(NOW - timedelta(days=7), NOW - timedelta(minutes=10), timedelta(minutes=20)))

    health = _health(tenant, bot)

    assert health.conditions == ()
    assert health.status == "ok"
    assert health.callback_gap_seconds < 30 * 60
    assert health.expected_messages_in_gap == pytest.approx(1, abs=0.1)


def test_ten_quiet_minutes_of_a_very_busy_group_are_not_silence(tenant):
    bot = _bot(tenant)
    _messages(bot, _every(NOW - timedelta(days=2), NOW - timedelta(minutes=10), timedelta(minutes=1)))

    health = _health(tenant, bot)

    assert health.expected_messages_in_gap >= 9  # more than the 4 of a silent bot, but under 30 minutes
    assert "silent" not in health.condition_codes


def test_a_group_that_is_quiet_at_this_hour_is_not_silent(tenant):
    """It talks from 09:00 to 17:00 UTC only. Five hours after its last message, a rule on its average gap alone
    would call it silent; at these hours it never says anything."""
    bot = _bot(tenant)
    days = [NOW.replace(hour=9) - timedelta(days=offset) for offset in range(7)]
    _messages(bot, [moment for day in days for moment in _every(day, day.replace(hour=17), timedelta(minutes=10))])

    health = _health(tenant, bot)

    assert health.callback_gap_seconds > 4 * health.usual_gap_seconds > 30 * 60  # what the plain average says
    assert health.expected_messages_in_gap == pytest.approx(1, abs=0.2)  # the rest of its 16:00 hour, no more
    assert "silent" not in health.condition_codes
    # At 16:00 the next day, a whole working day without a callback is silence.
    assert "silent" in _health(tenant, bot, now=NOW + timedelta(hours=18)).condition_codes


def test_without_a_days_history_nothing_is_called_silent(tenant):
    bot = _bot(tenant)
    _messages(bot, _every(NOW - timedelta(hours=12), NOW - timedelta(hours=3), timedelta(minutes=5)))

    health = _health(tenant, bot)

    assert health.expected_messages_in_gap is None
    assert health.group_messages_7d == 108
    assert "silent" not in health.condition_codes


def test_the_finished_hours_come_from_the_cache_and_the_running_hour_is_counted_on_every_call(tenant):
    bot = _bot(tenant)
    _messages(bot, _every(NOW - timedelta(days=7), NOW - timedelta(hours=2), timedelta(minutes=20)))
    cache.clear()
    first = _health(tenant, bot, now=NOW + timedelta(minutes=20))
    _messages(bot, [NOW + timedelta(minutes=25)])  # the group speaks again in the running hour

    again = _health(tenant, bot, now=NOW + timedelta(minutes=30))  # the finished hours from the cache
    cache.clear()
    counted_afresh = _health(tenant, bot, now=NOW + timedelta(minutes=30))

    assert again.group_messages_7d == first.group_messages_7d + 1 == counted_afresh.group_messages_7d
    assert again == counted_afresh
    assert "silent" in first.condition_codes
    assert "silent" not in again.condition_codes


def test_an_inactive_bot_is_not_silent(tenant):
    bot = _bot(tenant, is_active=False)
    _messages(bot, _every(NOW - timedelta(days=7), NOW - timedelta(hours=2), timedelta(minutes=20)))

    assert "silent" not in _health(tenant, bot).condition_codes


# --- Replies ---------------------------------------------------------------------------------------------------------


def test_error_and_429_rates_come_from_the_last_days_reply_parts(tenant):
    bot = _bot(tenant)
    for _ in range(6):
        _reply(bot, status="sent")
    _reply(bot, status="failed", code=500, attempts=7)
    _reply(bot, status="failed", code=500, attempts=7)
    _reply(bot, status="failed", code=429, attempts=7)
    _reply(bot, status="failed", code=429, attempts=7)
    _reply(bot, status="pending", code=429, attempts=2)  # waiting out a 429: attempted, not finished
    _reply(bot, status="failed", code=500, at=NOW - timedelta(hours=25))  # older than a day
    _reply(_bot(tenant), status="failed", code=429)  # another bot's

    health = _health(tenant, bot)

    assert (health.replies_finished, health.replies_failed, health.error_rate) == (10, 4, 0.4)
    assert (health.replies_attempted, health.replies_rate_limited) == (11, 3)
    assert health.rate_limited_rate == pytest.approx(3 / 11, abs=1e-4)
    severities = {condition.code: condition.severity for condition in health.conditions}
    assert severities == {"error_rate": "warning", "rate_limited": "warning"}
    assert health.status == "warning"


def test_more_than_half_of_replies_failing_is_critical(tenant):
    bot = _bot(tenant)
    for status in ["sent", "sent", "failed", "failed", "failed"]:
        _reply(bot, status=status, code=500 if status == "failed" else None)

    health = _health(tenant, bot)

    assert [(condition.code, condition.severity) for condition in health.conditions] == [("error_rate", "critical")]


def test_a_few_replies_are_too_few_to_judge(tenant):
    bot = _bot(tenant)
    for minutes in range(4):
        _reply(bot, status="failed", code=404, at=NOW - timedelta(hours=1, minutes=minutes))

    health = _health(tenant, bot)

    assert (health.error_rate, health.recent_replies_rejected) == (1.0, 4)
    assert health.conditions == ()


def test_a_few_429s_are_too_few_to_judge(tenant):
    bot = _bot(tenant)
    for status, code in [("sent", None), ("sent", None), ("pending", 429), ("pending", 429)]:
        _reply(bot, status=status, code=code)

    health = _health(tenant, bot)

    assert (health.replies_attempted, health.rate_limited_rate) == (4, 0.5)
    assert health.conditions == ()


# --- Loop breaker and bot id -----------------------------------------------------------------------------------------


def test_an_open_loop_breaker_is_a_warning_and_a_closed_one_only_a_figure(tenant):
    tripped = _bot(tenant, breaker_open_until=NOW + timedelta(minutes=7), breaker_trips=3,
                   breaker_last_reason="a user message repeated the bot's own reply")  # fmt: skip
    closed = _bot(tenant, breaker_open_until=NOW - timedelta(minutes=1), breaker_trips=2)

    open_health, closed_health = _health(tenant, tripped), _health(tenant, closed)

    assert open_health.breaker_open is True
    assert [(condition.code, condition.severity) for condition in open_health.conditions] == [
        ("loop_breaker", "warning")
    ]
    assert "7 min" in open_health.conditions[0].detail
    assert "repeated the bot's own reply" in open_health.conditions[0].detail
    assert (closed_health.breaker_open, closed_health.breaker_trips, closed_health.conditions) == (False, 2, ())


def test_a_bot_id_groupme_keeps_rejecting_is_critical(tenant):
    bot = _bot(tenant)
    _reply(bot, status="sent", at=NOW - timedelta(hours=6))
    for minutes in range(5):
        _reply(bot, status="failed", code=404 if minutes % 2 else 400, at=NOW - timedelta(hours=1, minutes=minutes))

    health = _health(tenant, bot)

    assert "failing_bot_id" in health.condition_codes
    assert (health.recent_replies, health.recent_replies_rejected) == (5, 5)
    assert health.status == "critical"


def test_one_accepted_reply_among_the_last_five_clears_the_bot_id(tenant):
    bot = _bot(tenant)
    for minutes in range(1, 5):
        _reply(bot, status="failed", code=404, at=NOW - timedelta(hours=1, minutes=minutes))
    _reply(bot, status="sent", at=NOW - timedelta(minutes=30))

    health = _health(tenant, bot)

    assert (health.recent_replies, health.recent_replies_rejected) == (5, 4)
    assert "failing_bot_id" not in health.condition_codes


def test_server_errors_do_not_blame_the_bot_id(tenant):
    bot = _bot(tenant)
    for minutes in range(5):
        _reply(bot, status="failed", code=502, at=NOW - timedelta(hours=1, minutes=minutes))

    health = _health(tenant, bot)

    assert health.recent_replies_rejected == 0
    assert "failing_bot_id" not in health.condition_codes
    assert "error_rate" in health.condition_codes


# --- Alerts ----------------------------------------------------------------------------------------------------------


@pytest.fixture
def broken(tenant):
    """A tenant whose one bot has its loop breaker open all of the next day, and an owner to tell."""
    MembershipFactory(tenant=tenant, user=UserFactory(email="owner@example.com"), role=Role.OWNER)
    return _bot(tenant, name="Ana's Bait & Tackle", breaker_open_until=NOW + timedelta(days=2), breaker_trips=1)


def test_alerts_go_out_once_per_bot_and_condition_per_tenant_local_day(broken, mailoutbox):
    assert bot_health_alerts_send(now=NOW).emails_sent == 1
    assert bot_health_alerts_send(now=NOW + timedelta(minutes=10)).emails_sent == 0
    # 01:00 UTC is the next day in UTC but still 20:00 of the same day in New York.
    assert bot_health_alerts_send(now=NOW + timedelta(hours=3)).emails_sent == 0
    assert len(mailoutbox) == 1
    assert "Ana's Bait & Tackle: Loop breaker open (warning)" in mailoutbox[0].body  # plain text, not HTML-escaped
    assert "As of 2026-11-18 17:00 (America/New_York)" in mailoutbox[0].body
    assert "Loop breaker open" in mailoutbox[0].body

    # 00:10 in New York: a new day, the breaker is still open, the owner hears of it again.
    report = bot_health_alerts_send(now=NOW + timedelta(hours=7, minutes=10))

    assert (report.emails_sent, report.alerts_sent) == (1, 1)
    assert len(mailoutbox) == 2
    assert BotHealthAlert.objects.filter(bot=broken).count() == 2


def test_a_new_condition_on_the_same_day_is_still_sent(broken, mailoutbox):
    bot_health_alerts_send(now=NOW)
    for minutes in range(5):
        _reply(broken, status="failed", code=404, at=NOW - timedelta(minutes=minutes + 1))

    report = bot_health_alerts_send(now=NOW + timedelta(minutes=10))

    assert report.alerts_sent == 2  # the bot id, and the error rate that comes with it; not the breaker again
    assert "GroupMe bot id keeps failing" in mailoutbox[1].body
    assert "Loop breaker open" not in mailoutbox[1].body


def test_an_alert_that_could_not_be_sent_is_retried_on_the_next_run(broken, mailoutbox, monkeypatch):
    def smtp_down(**kwargs):
        raise ConnectionRefusedError("smtp down")

    with monkeypatch.context() as patch:
        patch.setattr("analytics.health.send_mail", smtp_down)
        report = bot_health_alerts_send(now=NOW)

    assert (report.emails_sent, report.emails_failed) == (0, 1)
    assert not BotHealthAlert.objects.exists()
    assert bot_health_alerts_send(now=NOW + timedelta(minutes=10)).emails_sent == 1
    assert len(mailoutbox) == 1


def test_alerts_go_to_the_tenants_active_owners_only(broken, tenant, other_tenant, mailoutbox):
    MembershipFactory(tenant=tenant, user=UserFactory(email="admin@example.com"), role=Role.ADMIN)
    MembershipFactory(tenant=tenant, user=UserFactory(email="analyst@example.com"), role=Role.ANALYST)
    MembershipFactory(tenant=tenant, user=UserFactory(email="gone@example.com", is_active=False), role=Role.OWNER)
    MembershipFactory(tenant=other_tenant, user=UserFactory(email="bob@example.com"), role=Role.OWNER)

    bot_health_alerts_send(now=NOW)

    assert [message.to for message in mailoutbox] == [["owner@example.com"]]


def test_alerts_carry_no_secrets(broken, mailoutbox):
    for minutes in range(5):
        _reply(broken, status="failed", code=404, at=NOW - timedelta(minutes=minutes + 1))

    bot_health_alerts_send(now=NOW)

    text = mailoutbox[0].subject + mailoutbox[0].body
    assert "GroupMe bot id keeps failing" in text
    assert broken.groupme_bot_id not in text
    assert broken.callback_token not in text
    assert "/hooks/" not in text


def test_inactive_bots_and_tenants_and_tenants_without_owners_get_no_alerts(tenant, mailoutbox):
    MembershipFactory(tenant=tenant, user=UserFactory(email="owner@example.com"), role=Role.OWNER)
    _bot(tenant, is_active=False, breaker_open_until=NOW + timedelta(hours=1))
    dormant = TenantFactory(is_active=False)
    MembershipFactory(tenant=dormant, user=UserFactory(email="dormant@example.com"), role=Role.OWNER)
    _bot(dormant, breaker_open_until=NOW + timedelta(hours=1))
    ownerless = TenantFactory()
    _bot(ownerless, breaker_open_until=NOW + timedelta(hours=1))

    report = bot_health_alerts_send(now=NOW)

    assert (report.alerts_sent, mailoutbox) == (0, [])
    assert not BotHealthAlert.objects.exists()  # nothing claimed: an owner added later today still hears of it


def test_the_beat_task_sends_the_alerts(broken, mailoutbox):
    # The task looks at the real clock; the breaker of `broken` is open for two days from NOW.
    type(broken).objects.filter(pk=broken.pk).update(breaker_open_until=datetime.now(UTC) + timedelta(hours=1))

    result = check_bot_health.delay().get()

    assert result["emails_sent"] == 1
    assert len(mailoutbox) == 1


# --- API -------------------------------------------------------------------------------------------------------------


@api_urls
def test_the_api_lists_every_bots_health(tenant, api):
    quiet = _bot(tenant, name="A quiet bot")
    tripped = _bot(tenant, name="B tripped bot", breaker_open_until=datetime.now(UTC) + timedelta(hours=1),
                   breaker_trips=4, breaker_last_reason="more than 60 replies in a minute")  # fmt: skip

    response = api.get(URL)

    assert response.status_code == 200
    results = response.json()["results"]
    assert [row["bot"] for row in results] == [str(quiet.pk), str(tripped.pk)]
    row = results[1]
    assert set(row) == {"bot", "name", "is_active", "status", "conditions", "callbacks", "replies", "recent_replies",
                        "loop_breaker"}  # fmt: skip
    assert row["status"] == "warning"
    assert [condition["code"] for condition in row["conditions"]] == ["loop_breaker"]
    assert set(row["conditions"][0]) == {"code", "severity", "detail"}
    assert row["loop_breaker"]["is_open"] is True
    assert row["loop_breaker"]["trips"] == 4
    assert set(row["callbacks"]) == {"last_callback_at", "gap_seconds", "group_messages_7d", "usual_gap_seconds",
                                     "expected_messages_in_gap"}  # fmt: skip
    assert row["replies"] == {"finished": 0, "failed": 0, "error_rate": None, "attempted": 0, "rate_limited": 0,
                              "rate_limited_rate": None}  # fmt: skip
    assert row["recent_replies"] == {"count": 0, "rejected": 0}
    assert results[0]["status"] == "ok"
    body = response.content.decode()
    assert tripped.groupme_bot_id not in body
    assert tripped.callback_token not in body


@api_urls
def test_the_api_answers_for_one_bot(tenant, api):
    wanted, _ = _bot(tenant), _bot(tenant)

    response = api.get(URL, {"bot": str(wanted.pk)})

    assert [row["bot"] for row in response.json()["results"]] == [str(wanted.pk)]


@api_urls
def test_another_tenants_bots_do_not_exist_here(tenant, other_tenant, third_tenant, api_client_for):
    theirs = _bot(tenant)
    _reply(theirs, status="sent", at=datetime.now(UTC) - timedelta(hours=1))
    ours = _bot(other_tenant)
    intruder = api_client_for(other_tenant)

    assert intruder.get(URL, {"bot": str(theirs.pk)}).status_code == 404
    assert intruder.get(URL, {"bot": "not-a-uuid"}).status_code == 404
    listed = intruder.get(URL)
    assert [row["bot"] for row in listed.json()["results"]] == [str(ours.pk)]
    assert str(theirs.pk) not in listed.content.decode()
    assert api_client_for(third_tenant).get(URL).json() == {"results": []}
    # The owner's key does see it, so the 404 above is the tenant boundary.
    assert api_client_for(tenant).get(URL, {"bot": str(theirs.pk)}).status_code == 200


@api_urls
@pytest.mark.parametrize("bots", [1, 4])
def test_the_api_answers_in_a_constant_number_of_queries(tenant, api, django_assert_num_queries, bots):
    now = datetime.now(UTC)
    for _ in range(bots):
        bot = _bot(tenant)
        _messages(bot, _every(now - timedelta(days=3), now - timedelta(hours=1), timedelta(hours=1)))
        _reply(bot, status="failed", code=404, at=now - timedelta(hours=2))
        _reply(bot, status="sent", at=now - timedelta(hours=1))
    api.get(URL)  # the key's first use is recorded once; later requests within minutes write nothing
    # key lookup; bots; their last callbacks and last finished replies; their groups' messages per hour; reply parts
    with django_assert_num_queries(5):
        response = api.get(URL)
    assert len(response.json()["results"]) == bots


def test_the_schema_documents_the_endpoint():
    schema = SchemaGenerator(patterns=urlpatterns).get_schema(request=None, public=True)

    operation = schema["paths"][URL]["get"]
    assert [parameter["name"] for parameter in operation["parameters"]] == ["bot"]
    assert operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/BotHealthList")
    assert {"BotHealth", "BotHealthCondition", "BotHealthReplies", "BotHealthLoopBreaker"} <= set(
        schema["components"]["schemas"]
    )


def test_interactions_without_a_reply_do_not_count(tenant):
    bot = _bot(tenant)
    InteractionFactory(tenant=tenant, bot=bot, reply_status=Interaction.ReplyStatus.NONE, message__sent_at=NOW)

    health = _health(tenant, bot)

    assert (health.replies_finished, health.recent_replies) == (0, 0)
