"""The demo's money: seed_demo's sources, links, clicks, conversions, refunds and donations, sent through the public
endpoints, and what demo_money does with the short URLs it finds."""

import re
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Count

from bots.models import Interaction, Rule
from bots.tests.factories import InteractionFactory
from monetization.demo_money import (
    BROWSER_AGENTS,
    PREVIEW_AGENTS,
    DemoLink,
    DemoMoneyPlan,
    DemoSource,
    demo_money_setup,
    demo_money_simulate,
)
from monetization.ledger import reconciliation
from monetization.models import (
    Click,
    Conversion,
    Creative,
    InteractionLink,
    Link,
    MonetizationSource,
    PostbackReceipt,
    SponsoredImpression,
    WebhookEvent,
)
from monetization.selectors import link_list
from monetization.services import interaction_link_url
from tenants.models import Tenant

UNREACHABLE_GROUPME = "http://127.0.0.1:9/v3"  # the discard port: seed_demo starts a fake GroupMe for the replies
SHORT_URL = re.compile(r"/l/([A-Za-z0-9_-]+)")


def _seed_demo() -> str:
    out = StringIO()
    call_command("seed_demo", "--messages", "300", stdout=out)
    return out.getvalue()


def _money_state(tenant: Tenant) -> dict[str, object]:
    return {
        "sources": sorted(MonetizationSource.objects.for_tenant(tenant).values_list("name", "kind")),
        "links": sorted(Link.objects.for_tenant(tenant).values_list("code", "destination_url")),
        "rules": sorted(Rule.objects.for_tenant(tenant).values_list("name", "response", "link__code")),
        "clicks": sorted(Click.objects.for_tenant(tenant).values_list("pk", "clicked_at", "is_bot")),
        "conversions": sorted(
            Conversion.objects.for_tenant(tenant).values_list("external_id", "amount", "occurred_at", "interaction")
        ),
        "receipts": PostbackReceipt.objects.for_tenant(tenant).count(),
        "webhook_events": WebhookEvent.objects.for_tenant(tenant).count(),
    }


@pytest.mark.django_db(transaction=True)
def test_seed_demo_earns_money_through_the_public_endpoints(settings):
    settings.GROUPME_API_URL = UNREACHABLE_GROUPME

    output = _seed_demo()
    finished = datetime.now(tz=UTC)

    community = Tenant.objects.get(name="Demo Community")
    sources = {source.name: source for source in MonetizationSource.objects.for_tenant(community)}
    assert {name: source.kind for name, source in sources.items()} == {
        "Lakeside Outfitters": "affiliate", "Marco's Pizza": "sponsorship", "Community Fund": "donation",
        "Lakeside Runners Plus": "subscription",
    }  # fmt: skip
    creative = Creative.objects.get(tenant=community)
    assert (creative.source.name, creative.mode, creative.link.source.name) == (
        "Marco's Pizza",
        "reply",
        "Marco's Pizza",
    )
    impressions = SponsoredImpression.objects.for_tenant(community)
    assert impressions.exists()
    assert all(text.startswith("#ad Marco's Pizza: ") for text in impressions.values_list("text", flat=True))
    linked = dict(Rule.objects.for_tenant(community).filter(link__isnull=False).values_list("name", "link__name"))
    assert linked == {"Deals": "Lakeside weekly deals", "Coupon": "Lakeside coupon",
                      "Rental prices": "Lakeside rentals", "Join": "Community Fund"}  # fmt: skip
    deals = Interaction.objects.for_tenant(community).filter(rule__name="Deals", reply_status="sent")
    assert deals.exists()
    assert all(f"{settings.PUBLIC_BASE_URL}/l/" in text for text in deals.values_list("reply_text", flat=True))

    # Clicks: a share of the replies' short URLs, a few minutes after the reply; previews are not human clicks.
    clicks = Click.objects.for_tenant(community).select_related("interaction")
    human, previews = clicks.filter(is_bot=False), clicks.filter(is_bot=True)
    assert human.exists()
    assert previews.exists()
    assert {click.user_agent for click in human} <= set(BROWSER_AGENTS)
    assert {click.user_agent for click in previews} <= set(PREVIEW_AGENTS)
    assert sum(link_list(tenant=community).values_list("human_clicks", flat=True)) == human.count()
    assert all(
        timedelta(0) < click.clicked_at - click.interaction.occurred_at < timedelta(minutes=30) for click in human
    )
    carried = {interaction.pk for interaction in Interaction.objects.for_tenant(community).filter(reply_status="sent")
               if SHORT_URL.search(interaction.reply_text)}  # fmt: skip
    clicked = set(human.values_list("interaction", flat=True))
    assert clicked <= carried
    assert 0.2 <= len(clicked) / len(carried) <= 0.45
    assert set(human.values_list("link__name", flat=True)) == set(
        Link.objects.for_tenant(community).values_list("name", flat=True)
    )

    # Conversions: postbacks and payment events with a click id are attributed to that click's interaction.
    conversions = Conversion.objects.for_tenant(community).select_related("attributed_click")
    with_click = conversions.exclude(click_id="")
    assert with_click.filter(via="postback").exists()
    assert with_click.filter(via="webhook", outcome="donation").exists()
    for conversion in with_click:
        assert conversion.attributed_click is not None, conversion.attribution
        assert conversion.interaction_id == conversion.attributed_click.interaction_id is not None
        # Dated when the member bought, minutes after the click (a refund: days after), not when seed_demo sent it.
        minutes_after_click = (conversion.occurred_at - conversion.attributed_click.clicked_at).total_seconds() / 60
        assert 1 <= minutes_after_click <= (180 + 6 * 24 * 60 if conversion.outcome == "refund" else 180)
    non_refunds = conversions.exclude(outcome="refund")
    # 10-20% at full size; a demo this small gets at least one of each outcome per link, hence the loose bound.
    assert 0.1 <= with_click.exclude(outcome="refund").count() / human.count() <= 0.5
    assert {"purchase", "signup", "donation", "subscription"} <= set(non_refunds.values_list("outcome", flat=True))
    # Dated when they happened, over the month: none in the future of the run that reported them.
    assert max(conversions.values_list("occurred_at", flat=True)) < finished
    assert max(conversions.values_list("occurred_at", flat=True)) - min(
        conversions.values_list("occurred_at", flat=True)
    ) > timedelta(days=10)

    refunds = conversions.filter(outcome="refund")
    assert refunds.exists()
    for refund in refunds:
        purchase = conversions.get(external_id=refund.external_id.removesuffix("-refund"), outcome="purchase")
        assert refund.amount == -purchase.amount < 0
        assert timedelta(days=1) <= refund.occurred_at - purchase.occurred_at <= timedelta(days=6)

    repeated = PostbackReceipt.objects.for_tenant(community).filter(duplicate=True)
    assert repeated.exists()
    for receipt in repeated:
        assert conversions.filter(source=receipt.source, external_id=receipt.external_id).count() == 1
    per_source_txn = conversions.values("source", "external_id").annotate(n=Count("pk")).filter(n__gt=1)
    assert not per_source_txn.exists()

    donations = conversions.filter(outcome="donation")
    assert set(donations.values_list("via", flat=True)) == {"webhook"}
    assert WebhookEvent.objects.for_tenant(community).count() == conversions.filter(via="webhook").count()

    net = sum(conversions.values_list("amount", flat=True))
    assert net > 0
    assert set(conversions.values_list("currency", flat=True)) == {"USD"}
    today = datetime.now(tz=community.time_zone).date()
    assert reconciliation(tenant=community, start=today - timedelta(days=40), end=today)["ok"]

    summary = next(line for line in output.splitlines() if "Demo Community: money:" in line)
    assert (
        f"{human.count() + previews.count()} clicks ({human.count()} human, {previews.count()} link previews)"
        in summary
    )
    assert f"{non_refunds.count()} conversions and {refunds.count()} refund(s)" in summary
    assert f"revenue net {net // 100}.{net % 100:02d} USD" in summary
    assert "unexpected" not in output


@pytest.mark.django_db(transaction=True)
def test_a_second_seed_demo_changes_no_money(settings):
    settings.GROUPME_API_URL = UNREACHABLE_GROUPME
    first = _seed_demo()
    community = Tenant.objects.get(name="Demo Community")
    seeded = _money_state(community)

    second = _seed_demo()

    assert seeded["clicks"]
    assert seeded["conversions"]
    assert _money_state(community) == seeded
    assert "money traffic" in first
    assert "money traffic" not in second
    summaries = [[line for line in output.splitlines() if ": money:" in line] for output in (first, second)]
    assert summaries[0] == summaries[1] != []


@pytest.mark.django_db
def test_only_short_urls_in_replies_groupme_accepted_are_followed(tenant):
    plan = DemoMoneyPlan(
        sources=(DemoSource(name="Shop", kind="affiliate"),),
        links=(DemoLink(name="Shop deals", destination_url="https://shop.example.com/deals", source="Shop"),),
    )
    link = demo_money_setup(tenant=tenant, plan=plan, creatives_start=datetime.now(tz=UTC)).links["Shop deals"]
    seen = InteractionFactory(tenant=tenant, occurred_at=datetime.now(tz=UTC) - timedelta(days=2))
    refused = InteractionFactory(tenant=tenant, bot=seen.bot, reply_status=Interaction.ReplyStatus.FAILED)
    for interaction in (seen, refused):
        url = interaction_link_url(interaction=interaction, link=link)
        Interaction.objects.filter(pk=interaction.pk).update(reply_text=f"Deals: {url}")

    tally = demo_money_simulate(tenant=tenant, plan=plan, since=datetime.now(tz=UTC) - timedelta(days=3))

    assert tally.unexpected == []
    clicks = Click.objects.filter(link=link)
    assert set(clicks.values_list("interaction", "is_bot")) == {(seen.pk, False), (seen.pk, True)}
    assert InteractionLink.objects.filter(interaction=refused).exists()
    conversion = Conversion.objects.get(tenant=tenant, outcome="purchase")
    assert conversion.interaction_id == seen.pk
    assert seen.occurred_at < conversion.attributed_click.clicked_at < conversion.occurred_at < datetime.now(tz=UTC)
