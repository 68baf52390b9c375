"""The REST API against its own OpenAPI schema, fuzzed in-process with schemathesis.

Every operation in `/api/schema/` gets a bounded, derandomized run (schema-valid and schema-violating requests) as
a tenant with a valid key and real rows, through Django's WSGI application. Each answer must not be a 5xx, must have
a documented status code, content type, headers and body, and an operation that needs a key must refuse to work
without one. Path ids and filter ids are drawn half the time from the tenant's real rows, so detail routes and
filters are exercised on objects that exist, not only on 404s.

Two of schemathesis's checks are left out on purpose, as they judge whether a request *should* be accepted, which
this schema cannot say: `positive_data_acceptance` fails every schema-valid request refused for a rule OpenAPI cannot
express (an end before its start, a filter naming a bot the tenant does not have, a cursor not made by the server),
and `negative_data_rejection` fails the leniencies the API keeps on purpose (DRF turns `0` into `"0"` for a text
field; an empty query value means "not given"). Their 400s are still checked for status, content type and shape.
"""

from typing import Any

import hypothesis
import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import strategies as st

from bots.tests.factories import BotFactory, InteractionFactory, RuleFactory
from config.wsgi import application
from groups.tests.factories import MemberFactory
from monetization.tests.factories import (
    ClickFactory,
    ConversionFactory,
    CreativeFactory,
    LinkFactory,
    MonetizationSourceFactory,
)
from tenants.services import api_key_revoke
from tenants.tests.factories import ApiKeyFactory, TenantFactory

MAX_EXAMPLES = 10

config = schemathesis.Config.from_dict(
    {
        "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "deterministic": True},
        "checks": {
            "positive_data_acceptance": {"enabled": False},
            "negative_data_rejection": {"enabled": False},
        },
    }
)
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application, config=config)

# The current test's real ids, by the path or query parameter they fill; set by the `fuzz_tenant` fixture.
KNOWN_IDS: dict[str, str] = {}


def _known_id(path: str, name: str) -> str | None:
    if name == "bot_pk":
        return KNOWN_IDS.get("bots")
    if name == "id":
        collection = path.removeprefix("/api/v1/").split("/")
        resource = "rules" if collection[0] == "bots" and "rules" in collection else collection[0]
        return KNOWN_IDS.get(resource)
    return KNOWN_IDS.get({"bot": "bots", "group": "groups", "source": "monetization-sources"}.get(name, ""))


def _sometimes_known(context: schemathesis.HookContext, parameters: dict[str, Any]) -> Any:
    if not isinstance(parameters, dict):  # negative generation may replace the whole container
        return st.just(parameters)
    assert context.operation is not None
    path = context.operation.path
    choices = {}
    for name, generated in parameters.items():
        known = _known_id(path, name)
        choices[name] = st.sampled_from([generated, known]) if known else st.just(generated)
    return st.fixed_dictionaries(choices)


@schema.hook
def flatmap_path_parameters(context: schemathesis.HookContext, path_parameters: dict[str, Any]) -> Any:
    return _sometimes_known(context, path_parameters)


@schema.hook
def flatmap_query(context: schemathesis.HookContext, query: dict[str, Any]) -> Any:
    return _sometimes_known(context, query)


@pytest.fixture
def in_process_requests(db):
    """Like Django's test client: requests run inside the test's transaction, whose connection must stay open."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def fuzz_tenant(in_process_requests, settings, fake_groupme):
    """A tenant with a row behind every route; yields the Authorization header of its key."""
    # The fuzzer sends thousands of requests with one key: the throttle is tested in tenants/tests/test_throttling.
    settings.API_THROTTLE_RATE = "1000000/min"
    tenant = TenantFactory()
    bot = BotFactory(tenant=tenant)
    rule = RuleFactory(tenant=tenant, bot=bot)
    member = MemberFactory(tenant=tenant, group=bot.group)
    interaction = InteractionFactory(tenant=tenant, bot=bot, member=member)
    source = MonetizationSourceFactory(tenant=tenant)
    link = LinkFactory(tenant=tenant, source=source)
    click = ClickFactory(tenant=tenant, link=link, interaction=interaction)
    conversion = ConversionFactory(tenant=tenant, source=source, interaction=interaction, click_id=str(click.pk))
    creative = CreativeFactory(tenant=tenant)
    spare_key = ApiKeyFactory(tenant=tenant)  # the one rotate and revoke act on, so the fuzzer's key keeps working
    KNOWN_IDS.update(
        {
            "bots": str(bot.pk), "rules": str(rule.pk), "groups": str(bot.group_id), "members": str(member.pk),
            "interactions": str(interaction.pk), "monetization-sources": str(source.pk), "links": str(link.pk),
            "conversions": str(conversion.pk), "creatives": str(creative.pk), "api-keys": str(spare_key.pk),
        }
    )  # fmt: skip
    try:
        yield f"Api-Key {ApiKeyFactory(tenant=tenant).raw_key}"
    finally:
        KNOWN_IDS.clear()


@schema.parametrize()
@hypothesis.settings(deadline=None, suppress_health_check=list(hypothesis.HealthCheck))
def test_every_operation_answers_as_documented(case: schemathesis.Case, fuzz_tenant: str) -> None:
    case.call_and_validate(headers={"Authorization": fuzz_tenant})


def _operations():
    return [result.ok() for result in schema.get_all_operations()]


def _revoked_key():
    api_key = ApiKeyFactory()
    api_key_revoke(api_key=api_key)
    return f"Api-Key {api_key.raw_key}"


CREDENTIALS = {
    "none": lambda: None,
    "unknown": lambda: "Api-Key byd_0000000000_not-a-key",
    "revoked": _revoked_key,
    "other-scheme": lambda: "Bearer x",
}


@pytest.mark.parametrize("operation", _operations(), ids=lambda operation: operation.label)
@pytest.mark.parametrize("credentials", list(CREDENTIALS))
def test_every_operation_refuses_a_request_without_a_valid_key(operation, credentials, in_process_requests):
    authorization = CREDENTIALS[credentials]()
    # Authentication comes before any lookup, so the ids need not exist.
    some_id = {"id": "01a20000-0000-7000-8000-000000000000", "bot_pk": "01a20000-0000-7000-8000-000000000000"}
    case = operation.Case(
        path_parameters={p.name: {**some_id, "kind": "kpis"}[p.name] for p in operation.path_parameters},
        headers={"Authorization": authorization} if authorization else {},
    )

    response = case.call()

    assert response.status_code == 401, response.text
    assert response.json()["code"] in ("not_authenticated", "authentication_failed")
    assert response.headers["www-authenticate"] == ['Api-Key realm="api"']
    case.validate_response(response)  # documented, with the error body's schema


def test_pages_follow_their_cursors_to_the_end(fuzz_tenant: str, client: Any) -> None:
    tenant_key = {"HTTP_AUTHORIZATION": fuzz_tenant}
    seen: list[str] = []
    url: str | None = "/api/v1/api-keys/?page_size=1"
    while url:
        page = client.get(url, **tenant_key).json()
        seen += [key["id"] for key in page["results"]]
        url = page["next"]
    assert len(seen) == len(set(seen)) == 2
    assert client.get("/api/v1/api-keys/?page_size=0", **tenant_key).status_code == 400
    assert client.get("/api/v1/api-keys/?page_size=201", **tenant_key).status_code == 400
    assert client.get("/api/v1/api-keys/?cursor=not-a-cursor", **tenant_key).json()["fields"] == {
        "cursor": ["Invalid cursor; use a next or previous link."]
    }


# What the fuzzer found, kept as examples: each was a 500 and is now a 400 naming the parameter, or an answer.
@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("get", "/api/v1/insights/active-members/?end=0001-01-01", None, "end"),  # a week before year 1
        ("get", "/api/v1/kpis/?start=9999-12-01&end=9999-12-31", None, "start"),
        ("get", "/api/v1/revenue-ledger/?start=0001-01-01&end=0001-01-02", None, "start"),
        ("get", "/api/v1/conversions/?until=0001-01-01T00:00:00%2B01:00", None, "until"),  # before year 1 in UTC
        ("get", "/api/v1/exports/interactions.csv?until=0365-08-28T14:14:32Z", None, "until"),
        ("put", "/api/v1/groupme/connection/", {"access_token": "tok\U0009ae2aen"}, "access_token"),  # not latin-1
    ],
)
def test_what_the_fuzzer_found_is_a_400_naming_the_parameter(method, path, body, field, fuzz_tenant, client):
    response = getattr(client, method)(path, body, content_type="application/json", HTTP_AUTHORIZATION=fuzz_tenant)

    assert response.status_code == 400, response.content
    assert field in response.json()["fields"]


def test_a_time_offset_postgresql_does_not_know_is_read_in_utc(fuzz_tenant, client):
    # Python reads offsets up to ±23:59, PostgreSQL only to ±15:59: the filter hands it the UTC instant.
    response = client.get("/api/v1/interactions/?since=2000-01-27T03:03:24%2B23:58", HTTP_AUTHORIZATION=fuzz_tenant)

    assert response.status_code == 200
    assert len(response.json()["results"]) == 1
