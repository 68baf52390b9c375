import secrets

import factory
from django.utils import timezone

from monetization.models import Click, Conversion, Creative, Link, MonetizationSource
from tenants.tests.factories import TenantFactory
from tenants.url_tokens import url_token_hash


class MonetizationSourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MonetizationSource

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"Source {n}")
    kind = MonetizationSource.Kind.AFFILIATE
    postback_token = factory.LazyFunction(lambda: secrets.token_urlsafe(24))
    postback_token_hash = factory.LazyAttribute(lambda source: url_token_hash(source.postback_token))


class LinkFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Link

    tenant = factory.SubFactory(TenantFactory)
    code = factory.LazyFunction(lambda: secrets.token_urlsafe(6))
    destination_url = "https://shop.example.com/kayaks?utm_source=groupme"


class ClickFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Click

    tenant = factory.SubFactory(TenantFactory)
    link = factory.SubFactory(LinkFactory, tenant=factory.SelfAttribute("..tenant"))
    user_agent = "Mozilla/5.0"


class ConversionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Conversion

    tenant = factory.SubFactory(TenantFactory)
    source = factory.SubFactory(MonetizationSourceFactory, tenant=factory.SelfAttribute("..tenant"))
    outcome = Conversion.Outcome.PURCHASE
    amount = 1999
    currency = "USD"
    external_id = factory.Sequence(lambda n: f"txn-{n}")
    occurred_at = factory.LazyFunction(timezone.now)
    attributed_click = None
    # As attribution copies it: the click's time when a person made the click.
    human_click_at = factory.LazyAttribute(
        lambda conversion: (
            conversion.attributed_click.clicked_at
            if conversion.attributed_click is not None and not conversion.attributed_click.is_bot
            else None
        )
    )


class CreativeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Creative

    tenant = factory.SubFactory(TenantFactory)
    source = factory.SubFactory(
        MonetizationSourceFactory,
        tenant=factory.SelfAttribute("..tenant"),
        kind=MonetizationSource.Kind.SPONSORSHIP,
        name="Lakeside Outfitters",
    )
    text = "20% off kayaks this weekend"
