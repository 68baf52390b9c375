from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Case, Count, Field, Model, Q, QuerySet, Value, When
from django.utils import timezone

from tenants.keys import api_key_lookup_id, api_key_matches
from tenants.models import ApiKey, Invitation, Membership, Role, Tenant, User
from tenants.url_tokens import url_token_hash, url_token_plausible


def membership_list_for_user(*, user: User) -> QuerySet[Membership]:
    """The active tenants a user belongs to (one query, tenant joined)."""
    return (
        Membership.objects.filter(user=user, tenant__is_active=True).select_related("tenant").order_by("tenant__name")
    )


def membership_get(*, user: User, tenant_slug: str) -> Membership | None:
    """A user's membership in the tenant at `tenant_slug`; None when there is none, whichever the reason."""
    return membership_list_for_user(user=user).filter(tenant__slug=tenant_slug).first()


def tenant_owner_emails(*, tenant: Tenant) -> list[str]:
    return list(
        Membership.objects.for_tenant(tenant)
        .filter(role=Role.OWNER, user__is_active=True)
        .values_list("user__email", flat=True)
    )


def api_key_list(*, tenant: Tenant) -> QuerySet[ApiKey]:
    return ApiKey.objects.for_tenant(tenant)


def api_key_get(*, tenant: Tenant, api_key_id: str) -> ApiKey | None:
    try:
        return api_key_list(tenant=tenant).get(pk=api_key_id)
    except (ApiKey.DoesNotExist, ValueError):
        return None


# What authentication reads, in one statement built once per connection: the key's few columns and its tenant's row
# (the request's tenant). A queryset with select_related cost 440-527 us of CPU per request, most of it building the
# query and two full model instances; the statement's text is constant, so only the row is converted (with the same
# converters the ORM applies) and turned into instances. docs/PERFORMANCE.md "API-key verification".
_AUTHENTICATION_KEY_FIELDS = ("id", "tenant_id", "lookup_id", "key_hash", "status", "expires_at", "last_used_at")
_Converter = Callable[[Any, Any, Any], Any]


@dataclass(frozen=True)
class _AuthenticationQuery:
    sql: str
    key_fields: tuple[str, ...]  # attnames, in the row's order
    tenant_fields: tuple[str, ...]
    converters: tuple[tuple[int, Any, tuple[_Converter, ...]], ...]  # (position, column expression, converters)


def _column(model: type[Model], name: str) -> "Field[Any, Any]":
    field = model._meta.get_field(name)
    assert isinstance(field, Field), name
    return field


@lru_cache(maxsize=64)  # per connection (one per thread); a few threads per process
def _authentication_query(connection: BaseDatabaseWrapper) -> _AuthenticationQuery:
    quote = connection.ops.quote_name
    key_table, tenant_table = ApiKey._meta.db_table, Tenant._meta.db_table
    columns = [(key_table, _column(ApiKey, name)) for name in _AUTHENTICATION_KEY_FIELDS] + [
        (tenant_table, _column(Tenant, field.name)) for field in Tenant._meta.concrete_fields
    ]
    converters = []
    for position, (table, field) in enumerate(columns):
        column = field.get_col(table)
        found = (*connection.ops.get_db_converters(column), *column.get_db_converters(connection))
        if found:
            converters.append((position, column, tuple(found)))
    select = ", ".join(f"{quote(table)}.{quote(str(field.column))}" for table, field in columns)
    tenant_id, key_tenant_id = _column(Tenant, "id").column, _column(ApiKey, "tenant").column
    sql = (
        f"SELECT {select} FROM {quote(key_table)} INNER JOIN {quote(tenant_table)} "  # noqa: S608 - the models' names
        f"ON {quote(tenant_table)}.{quote(str(tenant_id))} = {quote(key_table)}.{quote(str(key_tenant_id))} "
        f"WHERE {quote(key_table)}.{quote(str(_column(ApiKey, 'lookup_id').column))} = %s"
    )
    size = len(_AUTHENTICATION_KEY_FIELDS)
    return _AuthenticationQuery(
        sql=sql,
        key_fields=tuple(field.attname for _, field in columns[:size]),
        tenant_fields=tuple(field.attname for _, field in columns[size:]),
        converters=tuple(converters),
    )


def api_key_get_for_authentication(*, raw_key: str, now: datetime | None = None) -> ApiKey | None:
    """The usable key a caller presented, with its tenant; None for anything else.

    The one lookup that is not scoped by tenant, because the key is what names the tenant. The key comes back with
    only the columns authentication and `api_key_mark_used` use (the others load on first access, as deferred
    fields do); its tenant is complete.
    """
    lookup_id = api_key_lookup_id(raw_key)
    if lookup_id is None:
        return None
    connection = connections[ApiKey.objects.db]
    query = _authentication_query(connection)
    with connection.cursor() as cursor:
        cursor.execute(query.sql, [lookup_id])
        row = cursor.fetchone()
    if row is None:
        return None
    values = list(row)
    for position, column, converters in query.converters:
        for converter in converters:
            values[position] = converter(values[position], column, connection)
    size = len(query.key_fields)
    api_key = ApiKey.from_db(connection.alias, query.key_fields, values[:size])
    if not api_key_matches(raw_key, api_key.key_hash):
        return None
    tenant = Tenant.from_db(connection.alias, query.tenant_fields, values[size:])
    if not tenant.is_active or not api_key.is_usable_at(now or timezone.now()):
        return None
    api_key.tenant = tenant
    return api_key


@dataclass(frozen=True)
class ApiKeyRow:
    """A key as the keys page shows it, judged at one instant: its status, and what needs the tenant's attention."""

    api_key: ApiKey
    status: str
    expiring_soon: bool  # active, and within the notice period of its expiry: roll it
    in_grace: bool  # rotated away and still accepted until expires_at


def api_key_rows(*, api_keys: Iterable[ApiKey], now: datetime) -> list[ApiKeyRow]:
    notice_from = now + timedelta(days=settings.API_KEY_EXPIRY_NOTICE_DAYS)
    rows = []
    for api_key in api_keys:
        status = api_key.status_at(now)
        rows.append(
            ApiKeyRow(
                api_key=api_key,
                status=status,
                expiring_soon=status == ApiKey.Status.ACTIVE and api_key.expires_at <= notice_from,
                in_grace=status == ApiKey.Status.ROTATED,
            )
        )
    return rows


@dataclass(frozen=True)
class ApiKeyWarnings:
    expiring_soon: int
    in_grace: int


def api_key_warnings(*, tenant: Tenant, now: datetime) -> ApiKeyWarnings:
    """How many of the tenant's keys expire soon or are in a grace period, over every page of the list (one query)."""
    working = Q(expires_at__gt=now)
    counts = api_key_list(tenant=tenant).aggregate(
        expiring_soon=Count(
            "pk",
            filter=working
            & Q(status=ApiKey.Status.ACTIVE)
            & Q(expires_at__lte=now + timedelta(days=settings.API_KEY_EXPIRY_NOTICE_DAYS)),
        ),
        in_grace=Count("pk", filter=working & Q(status=ApiKey.Status.ROTATED)),
    )
    return ApiKeyWarnings(expiring_soon=counts["expiring_soon"], in_grace=counts["in_grace"])


def membership_list(*, tenant: Tenant) -> QuerySet[Membership]:
    """The tenant's team, owners first, with their users."""
    rank = Case(When(role=Role.OWNER, then=Value(0)), When(role=Role.ADMIN, then=Value(1)), default=Value(2))
    members: QuerySet[Membership] = (
        Membership.objects.for_tenant(tenant)
        .select_related("user")
        .annotate(role_rank=rank)
        .order_by("role_rank", "user__email", "pk")
    )
    return members


def invitation_list_pending(*, tenant: Tenant) -> QuerySet[Invitation]:
    """Invitations still open (expired ones included, so they can be resent), newest first, with who sent them."""
    return (
        Invitation.objects.for_tenant(tenant)
        .filter(status=Invitation.Status.PENDING)
        .select_related("invited_by")
        .order_by("-created_at", "-pk")
    )


def invitation_get_by_token(*, token: str) -> Invitation | None:
    """The invitation a link names, with its tenant. Like an API key, the token is what names the tenant."""
    if not url_token_plausible(token):
        return None
    invitation: Invitation | None = (
        Invitation.objects.select_related("tenant").filter(token_hash=url_token_hash(token)).first()
    )
    return invitation


def user_get_by_email(*, email: str) -> User | None:
    user: User | None = User.objects.filter(email=User.objects.normalize_email(email).lower()).first()
    return user
