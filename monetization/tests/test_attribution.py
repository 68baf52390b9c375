"""Links, clicks, postbacks and conversions: every cent attributed to the interaction that earned it, or explained."""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.utils import timezone

from bots.tests.factories import BotFactory, InteractionFactory, RuleFactory
from groups.models import Member
from groups.tests.factories import GroupFactory
from monetization.models import Click, Conversion, InteractionLink, PostbackReceipt
from monetization.services import conversion_record, conversion_report_clean, link_create, source_create
from monetization.tests.factories import ClickFactory, LinkFactory, MonetizationSourceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def bot(tenant):
    return BotFactory(tenant=tenant, group=GroupFactory(tenant=tenant, groupme_group_id="1001"))


@pytest.fixture
def source(tenant):
    return source_create(tenant=tenant, name="Lakeside Outfitters", kind="affiliate")


def _click(client, url, user_agent="Mozilla/5.0 (iPhone)"):
    return client.get(urlsplit(url).path, HTTP_USER_AGENT=user_agent, REMOTE_ADDR="203.0.113.9")


def test_a_click_redirects_with_the_click_id_and_keeps_the_destinations_query(client, tenant):
    link = link_create(tenant=tenant, destination_url="https://shop.example.com/kayaks?utm_source=groupme&x=1")

    response = client.get(f"/l/{link.code}", HTTP_USER_AGENT="Mozilla/5.0", REMOTE_ADDR="203.0.113.9")

    assert response.status_code == 302
    target = urlsplit(response["Location"])
    query = parse_qs(target.query)
    assert (target.netloc, target.path) == ("shop.example.com", "/kayaks")
    assert query["utm_source"] == ["groupme"]
    assert query["x"] == ["1"]
    click = Click.objects.get()
    assert query["click_id"] == [str(click.pk)]
    assert "203.0.113.9" not in click.visitor_hash
    assert not click.is_bot


def test_the_click_parameter_name_is_the_links(client, tenant):
    link = link_create(tenant=tenant, destination_url="https://x.example/", click_param="subid")
    assert "subid=" in client.get(f"/l/{link.code}")["Location"]


@pytest.mark.parametrize(
    "agent", ["facebookexternalhit/1.1", "GroupMe/5.0 LinkPreview", "Slackbot-LinkExpanding 1.0", ""]
)
def test_link_preview_fetchers_are_recorded_but_not_counted_as_clicks(client, api, tenant, agent):
    link = link_create(tenant=tenant, destination_url="https://x.example/")

    client.get(f"/l/{link.code}", HTTP_USER_AGENT=agent)

    assert Click.objects.get().is_bot
    assert api.get(f"/api/v1/links/{link.pk}/").json()["clicks"] == 0


def test_unknown_short_codes_are_404(client):
    assert client.get("/l/nosuchcode").status_code == 404


@pytest.mark.parametrize("url", ["javascript:alert(1)", "ftp://files.example/x", "not a url", "//evil.example"])
def test_links_must_point_to_http_or_https(api, url):
    response = api.post("/api/v1/links/", {"destination_url": url}, format="json")
    assert response.status_code == 400
    assert "destination_url" in response.json()["fields"]


def test_a_link_cannot_use_another_tenants_source(api, other_tenant):
    theirs = MonetizationSourceFactory(tenant=other_tenant)
    response = api.post("/api/v1/links/", {"destination_url": "https://x.example/", "source": str(theirs.pk)},
                        format="json")  # fmt: skip
    assert response.status_code == 400
    assert "source" in response.json()["fields"]


def test_a_reply_link_is_unique_to_its_interaction_and_its_sale_is_attributed(
    bot, deliver, fake_groupme, client, source
):
    link = link_create(tenant=bot.tenant, destination_url="https://shop.example.com/deal", source=source)
    rule = RuleFactory(tenant=bot.tenant, bot=bot, pattern="deal", response="{name}, grab it: {link}", link=link)

    deliver(bot, text="!deal", name="Ana", user_id="1", sender_id="1")
    deliver(bot, text="!deal", name="Bo", user_id="2", sender_id="2")

    first_url, second_url = (post["text"].split(": ", 1)[1] for post in fake_groupme.wait_for_posts(2))
    assert first_url != second_url
    assert InteractionLink.objects.count() == 2
    redirect = _click(client, first_url)
    click_id = parse_qs(urlsplit(redirect["Location"]).query)["click_id"][0]

    response = client.get(f"/hooks/postback/{source.postback_token}/",
                          {"click_id": click_id, "event": "purchase", "amount": "4999", "currency": "usd",
                           "txn_id": "order-1"})  # fmt: skip

    assert response.status_code == 201
    conversion = Conversion.objects.get()
    ana_interaction = InteractionLink.objects.get(code=urlsplit(first_url).path.rsplit("/", 1)[1]).interaction
    assert conversion.interaction == ana_interaction
    assert (conversion.amount, conversion.currency, conversion.outcome) == (4999, "USD", "purchase")
    assert conversion.attribution["method"] == "click"
    assert conversion.attribution["rule_name"] == rule.name


def test_opted_out_members_get_no_monetized_replies(bot, deliver, fake_groupme):
    link = link_create(tenant=bot.tenant, destination_url="https://shop.example.com/deal")
    RuleFactory(tenant=bot.tenant, bot=bot, pattern="deal", response="Deal: {link}", link=link)
    RuleFactory(tenant=bot.tenant, bot=bot, pattern="hours", response="Open 9-5")
    deliver(bot, text="!optout", user_id="1", sender_id="1")

    deliver(bot, text="!deal", user_id="1", sender_id="1")
    deliver(bot, text="!hours", user_id="1", sender_id="1")

    texts = [post["text"] for post in fake_groupme.wait_for_posts(2)]
    assert texts[-1] == "Open 9-5"
    assert not any("Deal" in text for text in texts)
    assert not InteractionLink.objects.exists()
    assert Member.objects.get(groupme_user_id="1").is_opted_out


@pytest.mark.parametrize("method", ["get", "post-form", "post-json"])
def test_postbacks_arrive_as_query_form_or_json(client, source, method):
    params = {"event": "signup", "amount": "0", "currency": "EUR", "txn_id": f"t-{method}"}
    url = f"/hooks/postback/{source.postback_token}/"
    if method == "get":
        response = client.get(url, params)
    elif method == "post-form":
        response = client.post(url, params)
    else:
        response = client.post(url, params, content_type="application/json")

    assert response.status_code == 201
    assert Conversion.objects.get().outcome == "signup"


def test_the_same_txn_id_twice_records_one_conversion_and_two_receipts(client, source):
    params = {"event": "purchase", "amount": "1000", "currency": "USD", "txn_id": "order-9"}
    url = f"/hooks/postback/{source.postback_token}/"

    first, second = client.get(url, params), client.get(url, {**params, "amount": "999999"})

    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["status"] == "duplicate"
    assert Conversion.objects.get().amount == 1000
    assert list(PostbackReceipt.objects.order_by("received_at").values_list("duplicate", flat=True)) == [False, True]


def test_a_refund_is_recorded_negative(client, source):
    client.get(f"/hooks/postback/{source.postback_token}/",
               {"event": "refund", "amount": "500", "currency": "USD", "txn_id": "refund-1"})  # fmt: skip
    assert Conversion.objects.get().amount == -500


@pytest.mark.parametrize(
    ("params", "field"),
    [({"currency": "XYZ"}, "currency"), ({"currency": ""}, "currency"), ({"amount": "12.50"}, "amount"),
     ({"amount": "abc"}, "amount"), ({"amount": "-5"}, "amount"), ({"event": "bought"}, "event"),
     ({"txn_id": ""}, "txn_id"), ({"amount": "1" * 16}, "amount"), ({"amount": ""}, "amount")],
)  # fmt: skip
def test_bad_postbacks_are_400_with_the_reason_and_store_nothing(client, source, params, field):
    base = {"event": "purchase", "amount": "1000", "currency": "USD", "txn_id": "order-1"}

    response = client.get(f"/hooks/postback/{source.postback_token}/", {**base, **params})

    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert not Conversion.objects.exists()
    assert not PostbackReceipt.objects.exists()


def test_unknown_or_inactive_postback_tokens_are_404(client, source):
    assert client.get("/hooks/postback/" + "x" * 32 + "/").status_code == 404
    source.is_active = False
    source.save()
    assert client.get(f"/hooks/postback/{source.postback_token}/").status_code == 404


def test_a_conversion_outside_the_window_is_kept_unattributed_with_the_reason(tenant, source):
    click = ClickFactory(tenant=tenant, clicked_at=timezone.now() - timedelta(days=45))
    report = conversion_report_clean(
        event="purchase", amount=100, currency="USD", txn_id="late", click_id=str(click.pk)
    )

    conversion, _ = conversion_record(source=source, report=report)

    assert conversion.interaction_id is None
    assert conversion.attribution["method"] == "none"
    assert "outside the window" in conversion.attribution["reason"]


@pytest.mark.parametrize(("is_bot", "kept"), [(False, True), (True, False)])
def test_an_attributed_conversion_keeps_its_human_clicks_time_for_the_funnel(tenant, source, is_bot, kept):
    click = ClickFactory(tenant=tenant, clicked_at=timezone.now() - timedelta(hours=3), is_bot=is_bot)
    report = conversion_report_clean(event="signup", amount=0, currency="USD", txn_id="t", click_id=str(click.pk))

    conversion, _ = conversion_record(source=source, report=report)

    assert conversion.attributed_click == click
    assert conversion.human_click_at == (click.clicked_at if kept else None)


def test_an_unknown_click_id_is_kept_unattributed(tenant, source):
    report = conversion_report_clean(event="purchase", amount=100, currency="USD", txn_id="x", click_id="garbage")
    conversion, _ = conversion_record(source=source, report=report)
    assert (conversion.interaction_id, conversion.attribution["method"]) == (None, "none")


def test_another_tenants_click_is_not_attributed(tenant, other_tenant, source):
    theirs = ClickFactory(tenant=other_tenant, interaction=InteractionFactory(tenant=other_tenant))
    report = conversion_report_clean(event="purchase", amount=1, currency="USD", txn_id="y", click_id=str(theirs.pk))
    conversion, _ = conversion_record(source=source, report=report)
    assert conversion.interaction_id is None


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicate_postbacks_record_one_conversion(tenant):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (SQLite locks the whole table)")
    source = source_create(tenant=tenant, name="S", kind="affiliate")
    report = conversion_report_clean(event="purchase", amount=700, currency="USD", txn_id="race")

    def record(_):
        try:
            return conversion_record(source=source, report=report)
        finally:
            connection.close()  # each thread has its own connection; leave none behind on the test database

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(record, range(12)))

    assert Conversion.objects.count() == 1
    assert sum(created for _, created in results) == 1
    assert PostbackReceipt.objects.filter(duplicate=False).count() == 1


def test_conversions_api_create_is_idempotent_on_source_and_external_id(api, tenant, source):
    interaction = InteractionFactory(tenant=tenant)
    body = {"source": str(source.pk), "interaction": str(interaction.pk), "outcome": "purchase", "amount": 2500,
            "currency": "usd", "external_id": "api-1"}  # fmt: skip

    first = api.post("/api/v1/conversions/", body, format="json")
    second = api.post("/api/v1/conversions/", body, format="json")

    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert first.json()["attribution"]["method"] == "interaction"
    assert first.json()["interaction"] == str(interaction.pk)


def test_conversions_api_refuses_another_tenants_source_or_interaction(api, other_tenant, source):
    theirs = InteractionFactory(tenant=other_tenant)
    body = {"source": str(source.pk), "interaction": str(theirs.pk), "outcome": "purchase", "amount": 1,
            "currency": "USD", "external_id": "x"}  # fmt: skip

    response = api.post("/api/v1/conversions/", body, format="json")

    assert response.status_code == 400
    assert "interaction" in response.json()["fields"]
    assert not Conversion.objects.exists()


def test_conversions_filter_by_outcome_and_source(api, tenant, source):
    other_source = source_create(tenant=tenant, name="Other", kind="donation")
    for outcome, src, txn in [("purchase", source, "a"), ("refund", source, "b"), ("donation", other_source, "c")]:
        conversion_record(source=src, report=conversion_report_clean(event=outcome, amount=100, currency="USD",
                                                                     txn_id=txn))  # fmt: skip

    refunds = api.get("/api/v1/conversions/", {"outcome": "refund"}).json()["results"]
    of_source = api.get("/api/v1/conversions/", {"source": str(other_source.pk)}).json()["results"]

    assert [row["amount"] for row in refunds] == [-100]
    assert [row["outcome"] for row in of_source] == ["donation"]


def test_sources_show_their_postback_url_and_only_creation_shows_the_webhook_secret(api):
    created = api.post("/api/v1/monetization-sources/", {"name": "Patreon", "kind": "subscription"}, format="json")

    assert created.status_code == 201
    assert created.json()["postback_url"].endswith("/")
    assert created.json()["webhook_secret"].startswith("whsec_")
    shown = api.get(f"/api/v1/monetization-sources/{created.json()['id']}/").json()
    assert "webhook_secret" not in shown
    assert shown["webhook_url"].startswith("http")


def test_a_source_with_conversions_cannot_be_deleted(api, tenant, source):
    conversion_record(source=source, report=conversion_report_clean(event="purchase", amount=1, currency="USD",
                                                                    txn_id="keep"))  # fmt: skip
    response = api.delete(f"/api/v1/monetization-sources/{source.pk}/")
    assert response.status_code == 400
    assert "deactivate" in response.json()["detail"]


def test_links_list_with_click_counts_in_constant_queries(api, tenant, django_assert_num_queries):
    for _ in range(4):
        link = LinkFactory(tenant=tenant)
        for _ in range(3):
            ClickFactory(tenant=tenant, link=link)
    api.get("/api/v1/links/")
    with django_assert_num_queries(2):  # key lookup, links page with counts
        rows = api.get("/api/v1/links/").json()["results"]
    assert [row["clicks"] for row in rows] == [3, 3, 3, 3]


def test_the_service_refuses_another_tenants_interaction_named_explicitly(tenant, other_tenant, source):
    from django.core.exceptions import ValidationError

    theirs = InteractionFactory(tenant=other_tenant)
    report = conversion_report_clean(event="purchase", amount=1, currency="USD", txn_id="z", interaction=theirs.pk)

    with pytest.raises(ValidationError):
        conversion_record(source=source, report=report)
    assert not Conversion.objects.exists()


def test_a_person_in_groupmes_in_app_browser_is_a_human_click(client, tenant):
    link = link_create(tenant=tenant, destination_url="https://x.example/")
    client.get(f"/l/{link.code}", HTTP_USER_AGENT="Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) GroupMe/6.1.2")
    assert not Click.objects.get().is_bot
