"""The Interactions pages: the filtered, keyset-paged list and one interaction with its reply, links and money."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from django.utils.html import escape

from bots.models import Interaction, ReplyPart
from bots.tests.factories import BotFactory, InteractionFactory, RuleFactory
from groups.tests.factories import GroupFactory, MemberFactory, MessageFactory
from monetization.models import InteractionLink
from monetization.tests.factories import ClickFactory, ConversionFactory, LinkFactory
from tenants.models import Role
from tenants.tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

CHICAGO = ZoneInfo("America/Chicago")


def _list(client, tenant, **query):
    return client.get(f"/t/{tenant.slug}/interactions/", query)


def _ids(response):
    return [interaction.pk for interaction in response.context["interactions"]]


def _interaction_at(bot, moment, **fields):
    """An interaction of `bot` whose message was sent at `moment`."""
    message = MessageFactory(tenant=bot.tenant, group=bot.group, bot=bot, sent_at=moment)
    return InteractionFactory(tenant=bot.tenant, bot=bot, message=message, member=message.member, **fields)


@pytest.fixture
def bot(tenant):
    return BotFactory(tenant=tenant, name="Tackle Bot", group=GroupFactory(tenant=tenant, name="Lake Anglers"))


# --- The list ----------------------------------------------------------------------------------------------------


def test_list_shows_each_interactions_columns_newest_first_with_a_link_to_it(owner_client, tenant, bot):
    older = _interaction_at(bot, timezone.now() - timedelta(hours=2), message_text="!where fish", intent="spots")
    newer = _interaction_at(
        bot, timezone.now(), message_text="!bait please", intent="bait", handled=False,
        reply_status=Interaction.ReplyStatus.FAILED, response_time_ms=4321, sentiment=0.5,
    )  # fmt: skip

    response = _list(owner_client, tenant)

    page = response.content.decode()
    assert response.status_code == 200
    assert _ids(response) == [newer.pk, older.pk]
    for shown in ("Tackle Bot", "Lake Anglers", str(newer.member), "!bait please", "bait", "Unhandled", "0.50",
                  "Failed", "4321"):  # fmt: skip
        assert escape(shown) in page
    assert f'href="/t/{tenant.slug}/interactions/{newer.pk}/"' in page
    assert response.context["nav_section"] == "interactions"


def test_list_shows_when_a_members_text_was_not_kept(owner_client, tenant, bot):
    member = MemberFactory(tenant=tenant, group=bot.group, opted_out_at=timezone.now())
    message = MessageFactory(tenant=tenant, group=bot.group, bot=bot, member=member, text=None)
    InteractionFactory(tenant=tenant, bot=bot, message=message, member=member, message_text=None)

    page = _list(owner_client, tenant).content.decode()

    assert "Text not kept: the member opted out" in page


def test_list_times_are_in_the_tenants_time_zone(owner_client, tenant, bot):
    tenant.time_zone = CHICAGO
    tenant.save()
    _interaction_at(bot, datetime(2025, 1, 10, 3, 30, tzinfo=UTC))

    page = _list(owner_client, tenant).content.decode()

    assert "2025-01-09 21:30:00" in page  # UTC-6 in January


@pytest.mark.parametrize(
    ("name", "matching", "other"),
    [
        ("intent", {"intent": "bait"}, {"intent": "spots"}),
        ("handled", {"handled": False}, {"handled": True}),
        ("reply_status", {"reply_status": "failed"}, {"reply_status": "sent"}),
    ],
)
def test_list_filters_on_a_field(owner_client, tenant, bot, name, matching, other):
    wanted = _interaction_at(bot, timezone.now(), **matching)
    _interaction_at(bot, timezone.now(), **other)
    value = {"handled": "false"}.get(name, matching.get(name))

    assert _ids(_list(owner_client, tenant, **{name: value})) == [wanted.pk]


def test_list_filters_on_bot_group_and_member(owner_client, tenant, bot):
    other_bot = BotFactory(tenant=tenant)
    mine = _interaction_at(bot, timezone.now())
    theirs = _interaction_at(other_bot, timezone.now())

    assert _ids(_list(owner_client, tenant, bot=bot.pk)) == [mine.pk]
    assert _ids(_list(owner_client, tenant, group=other_bot.group_id)) == [theirs.pk]
    response = _list(owner_client, tenant, member=mine.member_id)
    assert _ids(response) == [mine.pk]
    assert escape(str(mine.member)) in response.content.decode()  # the page names whose interactions these are


def test_since_and_until_are_whole_days_in_the_tenants_time_zone(owner_client, tenant, bot):
    tenant.time_zone = CHICAGO
    tenant.save()
    day_before = _interaction_at(bot, datetime(2025, 1, 9, 23, 59, tzinfo=CHICAGO))
    first_minute = _interaction_at(bot, datetime(2025, 1, 10, 0, 0, tzinfo=CHICAGO))
    last_minute = _interaction_at(bot, datetime(2025, 1, 10, 23, 59, 59, tzinfo=CHICAGO))
    day_after = _interaction_at(bot, datetime(2025, 1, 11, 0, 0, tzinfo=CHICAGO))

    one_day = _ids(_list(owner_client, tenant, since="2025-01-10", until="2025-01-10"))
    from_the_tenth = _ids(_list(owner_client, tenant, since="2025-01-10"))
    until_the_tenth = _ids(_list(owner_client, tenant, until="2025-01-10"))

    assert one_day == [last_minute.pk, first_minute.pk]
    assert from_the_tenth == [day_after.pk, last_minute.pk, first_minute.pk]
    assert until_the_tenth == [last_minute.pk, first_minute.pk, day_before.pk]


def test_the_filter_form_is_filled_from_the_query_string(owner_client, tenant, bot):
    page = _list(owner_client, tenant, bot=bot.pk, group=bot.group_id, intent="bait", since="2025-01-01",
                 until="2025-01-31", handled="false", reply_status="failed").content.decode()  # fmt: skip

    assert f'<option value="{bot.pk}" selected>Tackle Bot</option>' in page
    assert f'<option value="{bot.group_id}" selected>Lake Anglers</option>' in page
    assert 'name="intent" value="bait"' in page
    assert 'name="since" value="2025-01-01"' in page
    assert 'name="until" value="2025-01-31"' in page
    assert '<option value="false" selected>Unhandled</option>' in page
    assert '<option value="failed" selected>Failed</option>' in page


def test_deleted_bots_can_still_be_filtered_on(owner_client, tenant):
    retired = BotFactory(tenant=tenant, name="Old Bot", deleted_at=timezone.now())
    kept = _interaction_at(retired, timezone.now())

    response = _list(owner_client, tenant, bot=retired.pk)

    assert _ids(response) == [kept.pk]
    assert "Old Bot (deleted)" in response.content.decode()


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"bot": "not-an-id"}, "No such bot here."),
        ({"group": "01a200b5-7e9f-7d11-bc17-100afdcbce26"}, "No such group here."),
        ({"member": "01a200b5-7e9f-7d11-bc17-100afdcbce26"}, "No such member here."),
        ({"member": "nobody"}, "No such member here."),
        ({"since": "2025-13-01"}, "A date as YYYY-MM-DD."),
        ({"until": "yesterday"}, "A date as YYYY-MM-DD."),
        ({"since": "9999-12-25", "until": "9999-12-31"}, "A date from 2000-01-01 to 2999-12-31"),
        ({"until": "0001-01-01"}, "A date from 2000-01-01 to 2999-12-31"),
        ({"since": "2025-02-01", "until": "2025-01-01"}, "The end date is before the start date."),
        ({"handled": "maybe"}, "Handled is true or false."),
        ({"reply_status": "lost"}, "Reply status is one of: pending, sent, failed, none."),
        ({"intent": "x" * 65}, "at most 64 characters"),
        ({"before": "garbage"}, "This page link is broken"),
    ],
)
def test_bad_filters_are_a_400_with_a_clear_message(owner_client, tenant, bot, query, message):
    _interaction_at(bot, timezone.now(), intent="secret-intent")

    response = _list(owner_client, tenant, **query)

    page = response.content.decode()
    assert response.status_code == 400
    assert escape(message) in page
    assert "secret-intent" not in page


def test_another_tenants_bot_is_a_bad_filter_not_an_empty_list(owner_client, tenant, other_tenant):
    theirs = BotFactory(tenant=other_tenant)

    assert _list(owner_client, tenant, bot=theirs.pk).status_code == 400


def test_keyset_pages_walk_every_interaction_once_in_order(owner_client, tenant, bot):
    moment = timezone.now().replace(microsecond=0)
    # Ties on the same instant straddle the page boundaries; only the id can order them.
    created = [_interaction_at(bot, moment - timedelta(minutes=index // 7)) for index in range(123)]
    expected = [i.pk for i in sorted(created, key=lambda i: (i.occurred_at, i.pk), reverse=True)]

    seen, query, pages = [], {}, 0
    while True:
        response = _list(owner_client, tenant, **query)
        assert response.status_code == 200
        seen += _ids(response)
        pages += 1
        older = response.context["older_query"]
        if not older:
            break
        query = dict(pair.split("=", 1) for pair in older.split("&"))

    assert pages == 3
    assert seen == expected


def test_older_pages_keep_the_filters(owner_client, tenant, bot):
    moment = timezone.now()
    wanted = [_interaction_at(bot, moment - timedelta(seconds=index), intent="bait") for index in range(55)]
    for index in range(10):
        _interaction_at(bot, moment - timedelta(seconds=index, milliseconds=500), intent="spots")

    first = _list(owner_client, tenant, intent="bait")
    older_query = first.context["older_query"]
    second = owner_client.get(f"/t/{tenant.slug}/interactions/?{older_query}")

    assert "intent=bait" in older_query
    assert _ids(first) + _ids(second) == [interaction.pk for interaction in wanted]
    assert second.context["older_query"] == ""
    assert "← Newest" in second.content.decode()


def test_an_empty_list_says_what_to_do_next(owner_client, tenant):
    page = _list(owner_client, tenant).content.decode()

    assert "No interactions yet" in page
    assert f'href="/t/{tenant.slug}/bots/"' in page


def test_the_list_shows_nothing_of_another_tenant(owner_client, tenant, other_tenant):
    theirs = InteractionFactory(tenant=other_tenant, message_text="bakers secret")

    response = _list(owner_client, tenant)

    assert theirs.pk not in _ids(response)
    assert "bakers secret" not in response.content.decode()


@pytest.mark.parametrize("rows", [3, 30])
def test_list_answers_in_a_bounded_number_of_queries(owner_client, tenant, rows, django_assert_max_num_queries):
    for _ in range(rows):
        InteractionFactory(tenant=tenant)  # each with its own bot, group and member
    member = MemberFactory(tenant=tenant)
    # session, user, membership + tenant, the switcher's memberships, bots and groups for the filter form,
    # the page of interactions; and the member, when the list is filtered to one
    with django_assert_max_num_queries(7):
        response = _list(owner_client, tenant, since="2000-01-01")
    with django_assert_max_num_queries(8):
        _list(owner_client, tenant, member=member.pk)
    assert len(_ids(response)) == rows


# --- One interaction ---------------------------------------------------------------------------------------------


def _detail(client, interaction):
    return client.get(f"/t/{interaction.tenant.slug}/interactions/{interaction.pk}/")


def test_detail_shows_the_message_the_rule_and_the_reply(owner_client, tenant, bot):
    rule = RuleFactory(tenant=tenant, bot=bot, name="Bait advice", pattern="bait", intent="bait")
    interaction = _interaction_at(bot, timezone.now(), rule=rule, intent="bait", message_text="!bait for pike?",
                                  reply_text="Try a spoon.", sentiment=-0.25, response_time_ms=812)  # fmt: skip

    response = _detail(owner_client, interaction)

    page = response.content.decode()
    assert response.status_code == 200
    for shown in ("!bait for pike?", "Bait advice", "Command (prefix + word)", "Try a spoon.", "-0.25", "812 ms",
                  "Tackle Bot", "Lake Anglers"):  # fmt: skip
        assert escape(shown) in page
    assert f"/t/{tenant.slug}/interactions/?member={interaction.member_id}" in page


@pytest.mark.parametrize(
    ("fields", "explanation"),
    [
        ({"handled": False, "intent": "", "reply_text": "Sorry, I don't know that one."}, "fallback reply"),
        ({"handled": False, "intent": "", "reply_text": "", "reply_status": "none"}, "no fallback reply"),
        ({"handled": True, "intent": "optout"}, "the built-in opt-out command"),
        ({"handled": True, "intent": "bait"}, "A rule that has since been deleted."),
    ],
)
def test_detail_explains_what_answered_when_no_rule_did(owner_client, tenant, bot, fields, explanation):
    interaction = _interaction_at(bot, timezone.now(), rule=None, **fields)

    assert explanation in _detail(owner_client, interaction).content.decode()


def test_detail_shows_each_reply_part_with_attempts_status_and_last_error(owner_client, tenant, bot):
    received = timezone.now()
    interaction = _interaction_at(bot, received, reply_status=Interaction.ReplyStatus.FAILED)
    ReplyPart.objects.create(
        tenant=tenant, interaction=interaction, sequence=1, text="first half", status=ReplyPart.Status.SENT,
        attempts=1, accepted_at=received + timedelta(seconds=1),
    )  # fmt: skip
    ReplyPart.objects.create(tenant=tenant, interaction=interaction, sequence=2, text="second half",
                             status=ReplyPart.Status.FAILED, attempts=6, last_status_code=503,
                             last_error="GroupMe answered 503")  # fmt: skip

    response = _detail(owner_client, interaction)

    page = response.content.decode()
    assert [part.sequence for part in response.context["reply_parts"]] == [1, 2]
    assert "HTTP 503 · GroupMe answered 503" in page
    assert ">6<" in page
    assert "7 attempts in all" in page
    assert "second half" in page


def test_detail_shows_links_sent_with_their_clicks_and_conversions(owner_client, tenant, bot):
    interaction = _interaction_at(bot, timezone.now())
    link = LinkFactory(tenant=tenant, name="Kayak shop", destination_url="https://shop.example.com/kayaks")
    InteractionLink.objects.create(tenant=tenant, interaction=interaction, link=link, code="kyk123")
    clicks = [ClickFactory(tenant=tenant, link=link, interaction=interaction) for _ in range(3)]
    ClickFactory(tenant=tenant, link=link, interaction=interaction, is_bot=True)
    ClickFactory(tenant=tenant, link=link)  # a click from elsewhere is not this interaction's
    ConversionFactory(tenant=tenant, interaction=interaction, attributed_click=clicks[0], amount=1999, currency="USD",
                      attribution={"reason": "last click within the attribution window"})  # fmt: skip
    ConversionFactory(tenant=tenant, interaction=interaction, amount=500, currency="JPY",
                      attribution={"reason": "the interaction was named explicitly"})  # fmt: skip

    response = _detail(owner_client, interaction)

    page = response.content.decode()
    (sent,) = response.context["links"]
    assert (sent.clicks, sent.preview_fetches, sent.conversions) == (3, 1, 1)
    assert sent.short_url.endswith("/l/kyk123")
    assert "Kayak shop" in page
    assert "19.99 USD" in page
    assert "500 JPY" in page
    assert "last click within the attribution window" in page
    assert "the interaction was named explicitly" in page


def test_detail_without_links_or_conversions_says_so(owner_client, tenant, bot):
    page = _detail(owner_client, _interaction_at(bot, timezone.now())).content.decode()

    assert "This reply carried no tracked link" in page
    assert "No conversion is attributed to this interaction yet" in page


def test_another_tenants_interaction_is_not_found(owner_client, tenant, other_tenant):
    theirs = InteractionFactory(tenant=other_tenant, message_text="bakers secret")

    response = owner_client.get(f"/t/{tenant.slug}/interactions/{theirs.pk}/")

    assert response.status_code == 404
    assert "bakers secret" not in response.content.decode()


def test_an_analyst_reads_both_pages_and_cannot_post(client, tenant, bot):
    interaction = _interaction_at(bot, timezone.now(), message_text="!hello there")
    client.force_login(MembershipFactory(tenant=tenant, user=UserFactory(), role=Role.ANALYST).user)

    assert "!hello there" in _list(client, tenant).content.decode()
    assert "!hello there" in _detail(client, interaction).content.decode()
    assert client.post(f"/t/{tenant.slug}/interactions/{interaction.pk}/").status_code == 403
    assert client.post(f"/t/{tenant.slug}/interactions/").status_code == 403


@pytest.mark.parametrize("rows", [3, 30])
def test_detail_answers_in_a_bounded_number_of_queries(owner_client, tenant, bot, rows, django_assert_max_num_queries):
    interaction = _interaction_at(bot, timezone.now(), rule=RuleFactory(tenant=tenant, bot=bot))
    for sequence in range(1, rows + 1):
        ReplyPart.objects.create(tenant=tenant, interaction=interaction, sequence=sequence, text="part")
        link = LinkFactory(tenant=tenant)
        InteractionLink.objects.create(tenant=tenant, interaction=interaction, link=link, code=f"c{rows}x{sequence}")
        click = ClickFactory(tenant=tenant, link=link, interaction=interaction)
        ConversionFactory(tenant=tenant, interaction=interaction, attributed_click=click)
    # session, user, membership + tenant, the switcher's memberships, the interaction with its bot, group, member,
    # rule and message, its reply parts, the links sent, their clicks, conversions per link, the conversions
    with django_assert_max_num_queries(10):
        response = _detail(owner_client, interaction)
    assert len(response.context["links"]) == rows
    assert len(response.context["conversions"]) == rows
