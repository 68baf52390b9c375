import secrets
from typing import Any

import factory

from bots.models import Bot, GroupMeConnection, Interaction, Rule
from groups.models import Message
from groups.tests.factories import GroupFactory, MemberFactory, MessageFactory
from tenants.tests.factories import TenantFactory
from tenants.url_tokens import url_token_hash


class BotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Bot

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"Bot {n}")
    group = factory.SubFactory(GroupFactory, tenant=factory.SelfAttribute("..tenant"))
    groupme_bot_id = factory.LazyFunction(lambda: secrets.token_hex(13))
    callback_token = factory.LazyFunction(lambda: secrets.token_urlsafe(24))
    callback_token_hash = factory.LazyAttribute(lambda bot: url_token_hash(bot.callback_token))


class RuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Rule

    tenant = factory.SubFactory(TenantFactory)
    bot = factory.SubFactory(BotFactory, tenant=factory.SelfAttribute("..tenant"))
    name = factory.Sequence(lambda n: f"Rule {n}")
    kind = Rule.Kind.COMMAND
    pattern = factory.Sequence(lambda n: f"cmd{n}")
    response = "Hi {name}!"
    intent = "greeting"


class InteractionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Interaction

    tenant = factory.SubFactory(TenantFactory)
    bot = factory.SubFactory(BotFactory, tenant=factory.SelfAttribute("..tenant"))
    group = factory.SelfAttribute("bot.group")
    member = factory.SubFactory(
        MemberFactory, tenant=factory.SelfAttribute("..tenant"), group=factory.SelfAttribute("..group")
    )
    message = factory.SubFactory(
        MessageFactory,
        tenant=factory.SelfAttribute("..tenant"),
        group=factory.SelfAttribute("..group"),
        member=factory.SelfAttribute("..member"),
        bot=factory.SelfAttribute("..bot"),
        has_interaction=True,
    )
    message_text = factory.SelfAttribute("message.text")
    intent = "help"
    reply_text = "Here to help."
    reply_status = Interaction.ReplyStatus.SENT
    response_time_ms = 180
    occurred_at = factory.SelfAttribute("message.sent_at")

    @classmethod
    def _create(cls, model_class: type[Interaction], *args: Any, **kwargs: Any) -> Interaction:
        interaction: Interaction = super()._create(model_class, *args, **kwargs)
        # What processing does in the interaction's transaction, for a message a test made itself.
        if not interaction.message.has_interaction:
            Message.objects.filter(pk=interaction.message_id).update(has_interaction=True)
            interaction.message.has_interaction = True
        return interaction


class GroupMeConnectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GroupMeConnection

    tenant = factory.SubFactory(TenantFactory)
    access_token = "fake-token"
