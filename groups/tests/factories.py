import factory
from django.utils import timezone

from groups.models import Group, Member, Message
from tenants.tests.factories import TenantFactory


class GroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Group

    tenant = factory.SubFactory(TenantFactory)
    groupme_group_id = factory.Sequence(lambda n: str(10_000_000 + n))
    name = factory.Sequence(lambda n: f"Group {n}")


class MemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Member

    tenant = factory.SubFactory(TenantFactory)
    group = factory.SubFactory(GroupFactory, tenant=factory.SelfAttribute("..tenant"))
    groupme_user_id = factory.Sequence(lambda n: str(20_000_000 + n))
    nickname = factory.Faker("first_name")


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    tenant = factory.SubFactory(TenantFactory)
    group = factory.SubFactory(GroupFactory, tenant=factory.SelfAttribute("..tenant"))
    member = factory.SubFactory(
        MemberFactory, tenant=factory.SelfAttribute("..tenant"), group=factory.SelfAttribute("..group")
    )
    groupme_message_id = factory.Sequence(lambda n: str(30_000_000 + n))
    sender_type = Message.SenderType.USER
    sender_id = factory.SelfAttribute("member.groupme_user_id")
    sender_name = factory.SelfAttribute("member.nickname")
    text = factory.Faker("sentence")
    sent_at = factory.LazyFunction(timezone.now)
    processed_at = factory.LazyFunction(timezone.now)
