from datetime import timedelta
from typing import Any

import factory
from django.utils import timezone

from tenants.keys import api_key_generate
from tenants.models import ApiKey, Membership, Role, Tenant, User


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
