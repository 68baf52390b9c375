from datetime import timedelta
from typing import Any

import factory
from django.utils import timezone

from tenants.keys import api_key_generate
from tenants.models import ApiKey, Invitation, Membership, Role, Tenant, User
from tenants.url_tokens import url_token_hash, url_token_new


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ["email"]

    email = factory.Sequence(lambda n: f"person{n}@example.com")
    password = factory.django.Password("correct horse battery staple")


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant

    name = factory.Sequence(lambda n: f"Community {n}")
    slug = factory.Sequence(lambda n: f"community-{n}")
    time_zone = "America/New_York"
    default_currency = "USD"


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    tenant = factory.SubFactory(TenantFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.OWNER


class ApiKeyFactory(factory.django.DjangoModelFactory):
    """Builds a real key; its secret is left on the instance as `raw_key` for tests to present."""

    class Meta:
        model = ApiKey

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"Key {n}")
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=90))

    @classmethod
    def _create(cls, model_class: type[ApiKey], *args: Any, **kwargs: Any) -> ApiKey:
        material = api_key_generate()
        kwargs.update(lookup_id=material.lookup_id, key_hash=material.key_hash)
        api_key = super()._create(model_class, *args, **kwargs)
        api_key.raw_key = material.raw_key
        return api_key


class InvitationFactory(factory.django.DjangoModelFactory):
    """A pending invitation; its link's token is left on the instance as `token` (only its hash is stored)."""

    class Meta:
        model = Invitation

    tenant = factory.SubFactory(TenantFactory)
    email = factory.Sequence(lambda n: f"invitee{n}@example.com")
    role = Role.ANALYST
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=7))
    sent_at = factory.LazyFunction(timezone.now)

    @classmethod
    def _create(cls, model_class: type[Invitation], *args: Any, **kwargs: Any) -> Invitation:
        token = url_token_new()
        kwargs["token_hash"] = url_token_hash(token)
        invitation = super()._create(model_class, *args, **kwargs)
        invitation.token = token
        return invitation
