"""The cross-tenant matrix beyond HTTP: Celery tasks handed another tenant's ids, and the shared cache.

Tasks are discovered from Celery's registry, so a new task joins this test by being registered: every task needs an
entry in TASK_ARGUMENTS, either the calls that mix one tenant's id with another's objects, or NO_IDS for a task
whose signature takes no ids (checked). A task handed mixed ids must leave both tenants' rows exactly as they were
and post nothing to GroupMe; the same task given one tenant's consistent ids must change that tenant, which proves
the scenario would have noticed.

Cache writers are discovered by scanning the source for writes to Django's cache: each module that writes needs an
entry in CACHE_WRITERS saying whose key it writes, and a test below for its isolation.
"""

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.core.cache import caches
from django.utils import timezone

from analytics.health import bot_health
from analytics.models import AggregationWatermark
from analytics.services import kpi_aggregate_tenant
from bots.models import Bot, Interaction, ReplyPart
from bots.tests.factories import BotFactory, InteractionFactory, RuleFactory
from config.celery import app as celery_app
from groups.models import Message
from groups.tests.factories import GroupFactory, MemberFactory, MessageFactory
from monetization.services import source_create
from monetization.sponsorship import creative_create
from tenants.models import ApiKey, Tenant
from tenants.tests.factories import ApiKeyFactory, TenantFactory

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


# --- One tenant's world, twice --------------------------------------------------------------------------------------


@dataclass
class World:
    """A tenant with work pending for every id-taking task: a message to process, a reply to send, a slot to post."""

    tenant: Tenant
    bot: Bot
    message: Message
    interaction: Interaction
    creative_id: str
    slot: str
    local_date: str
    ids: dict[str, str] = field(default_factory=dict)


def _world(name):
    tenant = TenantFactory(name=name, time_zone="UTC")
    # The same GroupMe group id in both tenants: two communities may connect one GroupMe group.
    bot = BotFactory(tenant=tenant, group=GroupFactory(tenant=tenant, groupme_group_id="1001"))
    RuleFactory(tenant=tenant, bot=bot, pattern="help", response="Hi {name}!")
    member = MemberFactory(tenant=tenant, group=bot.group)
    message = MessageFactory(
        tenant=tenant, group=bot.group, member=member, bot=bot, text="!help", processed_at=None
    )  # fmt: skip
    interaction = InteractionFactory(
        tenant=tenant, bot=bot, member=member, reply_status=Interaction.ReplyStatus.PENDING, reply_text="Hi!"
    )
    ReplyPart.objects.create(tenant=tenant, interaction=interaction, sequence=0, text="Hi!")
    now = timezone.now()
    slot = now.strftime("%H:%M")
    creative = creative_create(
        tenant=tenant, source=source_create(tenant=tenant, name="Sponsor", kind="sponsorship"), text="20% off",
        mode="scheduled", post_times=[slot], starts_at=LONG_AGO,
    )  # fmt: skip
    return World(
        tenant=tenant, bot=bot, message=message, interaction=interaction, creative_id=str(creative.pk), slot=slot,
        local_date=now.date().isoformat(),
    )  # fmt: skip


@pytest.fixture
def worlds(fake_groupme: Any) -> tuple[World, World]:
    """(acting tenant, other tenant)."""
    return _world("Alice's Anglers"), _world("Bob's Bakers")


def _tenant_models() -> list[Any]:
    return [model for model in apps.get_models() if any(f.name == "tenant" for f in model._meta.concrete_fields)]


def _snapshot(tenant: Tenant) -> dict[str, list[dict[str, Any]]]:
    rows = {model._meta.label: list(model.objects.filter(tenant=tenant).order_by("pk").values()) for model in
            _tenant_models()}  # fmt: skip
    rows["tenants.Tenant"] = list(Tenant.objects.filter(pk=tenant.pk).values())
    return rows


# --- Tasks --------------------------------------------------------------------------------------------------------

NO_IDS = "takes no ids"


@dataclass(frozen=True)
class TaskCalls:
    """Calls that mix the acting tenant (a) with the other tenant's (b) objects, and one consistent call for b."""

    mixed: Callable[[World, World], list[tuple[Any, ...]]]
    consistent: Callable[[World], tuple[Any, ...]]


def _slot_args(tenant: World, creative: World, group: World) -> tuple[Any, ...]:
    return (str(tenant.tenant.pk), creative.creative_id, str(group.bot.group_id), creative.local_date, creative.slot)


TASK_ARGUMENTS: dict[str, TaskCalls | str] = {
    "bots.tasks.process_message": TaskCalls(
        mixed=lambda a, b: [(str(a.tenant.pk), str(b.message.pk))],
        consistent=lambda b: (str(b.tenant.pk), str(b.message.pk)),
    ),
    "bots.tasks.process_messages": TaskCalls(
        mixed=lambda a, b: [([[str(a.tenant.pk), str(b.message.pk)]],)],
        consistent=lambda b: ([[str(b.tenant.pk), str(b.message.pk)]],),
    ),
    "bots.tasks.send_reply": TaskCalls(
        mixed=lambda a, b: [(str(a.tenant.pk), str(b.interaction.pk))],
        consistent=lambda b: (str(b.tenant.pk), str(b.interaction.pk)),
    ),
    "monetization.tasks.send_sponsored_post": TaskCalls(
        mixed=lambda a, b: [_slot_args(a, b, b), _slot_args(a, a, b), _slot_args(a, b, a), _slot_args(b, a, a)],
        consistent=lambda b: _slot_args(b, b, b),
    ),
    # Periodic jobs: every tenant's due work, each row handled within its own tenant by the services they call.
    "bots.tasks.sweep_outbox": NO_IDS,
    "bots.tasks.expire_raw_text": NO_IDS,
    "analytics.tasks.aggregate_kpis": NO_IDS,
    "analytics.tasks.finalize_kpis": NO_IDS,
    "analytics.health_tasks.check_bot_health": NO_IDS,
    "monetization.tasks.post_scheduled_sponsored_messages": NO_IDS,
    "tenants.tasks.rotate_api_keys": NO_IDS,
}


def _project_tasks() -> list[str]:
    celery_app.loader.import_default_modules()
    return sorted(name for name in celery_app.tasks if not name.startswith("celery."))


def _registered_task(name: str) -> Any:
    # The registry fills as task modules are imported: a test run alone (or on its own xdist worker) must not
    # depend on an earlier test having imported them.
    celery_app.loader.import_default_modules()
    return celery_app.tasks[name]


def _parameters(task: Any) -> list[inspect.Parameter]:
    parameters = list(inspect.signature(task.run).parameters.values())
    return parameters[1:] if task.bind and parameters and parameters[0].name == "self" else parameters


def test_every_registered_task_has_an_entry_in_the_matrix() -> None:
    registered = _project_tasks()

    missing, gone = sorted(set(registered) - set(TASK_ARGUMENTS)), sorted(set(TASK_ARGUMENTS) - set(registered))
    assert sorted(TASK_ARGUMENTS) == registered, f"no entry for {missing}; entries for unregistered {gone}"


@pytest.mark.parametrize("name", [name for name, calls in TASK_ARGUMENTS.items() if calls == NO_IDS])
def test_a_task_said_to_take_no_ids_takes_none(name: str) -> None:
    parameters = _parameters(_registered_task(name))

    assert all(not parameter.name.endswith(("id", "ids")) for parameter in parameters), parameters
    assert all(parameter.default is not inspect.Parameter.empty for parameter in parameters), parameters


@pytest.mark.parametrize("name", [name for name, calls in TASK_ARGUMENTS.items() if calls != NO_IDS])
def test_a_task_given_another_tenants_ids_changes_nothing_of_either_tenant(
    name: str, worlds: tuple[World, World], fake_groupme: Any
) -> None:
    acting, other = worlds
    calls = TASK_ARGUMENTS[name]
    assert isinstance(calls, TaskCalls)
    task = _registered_task(name)
    before = (_snapshot(acting.tenant), _snapshot(other.tenant))

    for args in calls.mixed(acting, other):
        task.apply(args=args, throw=True)

    assert (_snapshot(acting.tenant), _snapshot(other.tenant)) == before
    assert fake_groupme.posts == []
    # The same task on the other tenant's own ids does act: the scenario above was one it would have acted on.
    task.apply(args=calls.consistent(other), throw=True)
    assert _snapshot(other.tenant) != before[1]
    assert _snapshot(acting.tenant) == before[0]


# --- The shared cache ---------------------------------------------------------------------------------------------

# Every module that writes to Django's cache, and whose entries it writes.
CACHE_WRITERS = {
    "tenants/api/throttling.py": "one counter per API key and window: throttle:api-key:<key id>:<window>",
    "config/health.py": "one key per probe, no tenant data: health:probe:<random>",
    "analytics/health.py": "a tenant's messages per hour of the past week: health:activity:<tenant id>:<hour>:<groups>",
    "analytics/figure_cache.py": (
        "a range's figures per KPI run, the ranges viewed, pages in use: figures:set|viewed|used:<tenant id>:…"
    ),
}
CACHE_WRITE = re.compile(r"\bcache\.(set|add|incr|decr|set_many|get_or_set|touch|delete|delete_many)\(")


def test_every_module_that_writes_the_cache_is_in_the_matrix() -> None:
    writers = set()
    for path in ROOT.rglob("*.py"):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith((".venv/", "bench/")) or "/tests/" in relative or "/migrations/" in relative:
            continue
        if CACHE_WRITE.search(path.read_text()):
            writers.add(relative)

    assert writers == set(CACHE_WRITERS)


@pytest.fixture
def cache_keys(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every key written to the default cache while the test runs, as the code names it (before the prefix)."""
    written: list[str] = []
    backend = caches["default"]
    for method in ("set", "add", "incr"):
        original = getattr(backend, method)

        def recording(key: str, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            written.append(key)
            return _original(key, *args, **kwargs)

        monkeypatch.setattr(backend, method, recording)
    return written


def test_one_tenants_api_traffic_neither_reads_nor_bumps_another_tenants_throttle(settings, client, cache_keys):
    settings.API_THROTTLE_RATE = "3/hour"
    alice, bob = ApiKeyFactory(tenant=TenantFactory()), ApiKeyFactory(tenant=TenantFactory())

    alice_answers = [client.get("/api/v1/bots/", HTTP_AUTHORIZATION=f"Api-Key {alice.raw_key}").status_code
                     for _ in range(4)]  # fmt: skip
    alice_keys = set(cache_keys)
    cache_keys.clear()
    bob_answers = [client.get("/api/v1/bots/", HTTP_AUTHORIZATION=f"Api-Key {bob.raw_key}").status_code
                   for _ in range(3)]  # fmt: skip

    assert alice_answers == [200, 200, 200, 429]
    assert bob_answers == [200, 200, 200]  # Alice's exhausted window is not Bob's
    assert alice_keys
    assert all(f":{alice.pk}:" in key for key in alice_keys)
    assert cache_keys
    assert all(f":{bob.pk}:" in key for key in cache_keys)


def test_each_health_probe_has_a_key_of_its_own(client: Any, cache_keys: list[str]) -> None:
    client.get("/health/")
    client.get("/health/")

    assert len(cache_keys) == len(set(cache_keys)) == 2
    assert all(key.startswith("health:probe:") for key in cache_keys)


def test_bot_health_keeps_each_tenants_past_hours_under_its_own_key(cache_keys):
    alice, bob = TenantFactory(), TenantFactory()
    for tenant, messages in ((alice, 3), (bob, 1)):
        bot = BotFactory(tenant=tenant, group=GroupFactory(tenant=tenant, groupme_group_id="1001"))
        for _ in range(messages):
            MessageFactory(tenant=tenant, group=bot.group, bot=bot, sent_at=timezone.now() - timedelta(hours=2))

    alice_health = bot_health(tenant=alice)
    alice_keys = set(cache_keys)
    cache_keys.clear()
    bob_health = bot_health(tenant=bob)

    assert [entry.group_messages_7d for entry in alice_health + bob_health] == [3, 1]
    assert alice_keys
    assert all(f":{alice.pk}:" in key for key in alice_keys)
    assert cache_keys
    assert all(f":{bob.pk}:" in key for key in cache_keys)


def test_each_tenants_kpi_figures_are_kept_under_its_own_key(api_client_for, cache_keys):
    """The same range asked by two tenants whose KPI runs finished at the same moment: two entries, two answers."""
    alice, bob = TenantFactory(time_zone="UTC"), TenantFactory(time_zone="UTC")
    MessageFactory(tenant=alice, sent_at=datetime(2026, 11, 10, 12, tzinfo=UTC))
    for tenant in (alice, bob):
        kpi_aggregate_tenant(tenant=tenant)
    AggregationWatermark.objects.update(updated_at=timezone.now())
    day = "2026-11-10"

    answers = {}
    keys = {}
    for tenant in (alice, bob):
        answers[tenant.pk] = api_client_for(tenant).get("/api/v1/kpis/", {"start": day, "end": day}).json()
        keys[tenant.pk] = [key for key in cache_keys if key.startswith("figures:")]
        cache_keys.clear()

    assert answers[alice.pk]["totals"]["messages"] == 1
    assert answers[bob.pk]["totals"]["messages"] == 0
    for tenant in (alice, bob):
        assert keys[tenant.pk]
        assert all(f":{tenant.pk}:" in key for key in keys[tenant.pk])


# --- State kept outside the cache, named by the brief: API key last use and the loop breaker ---------------------


def test_using_one_tenants_key_marks_only_that_key_used(client):
    alice, bob = ApiKeyFactory(tenant=TenantFactory()), ApiKeyFactory(tenant=TenantFactory())

    client.get("/api/v1/bots/", HTTP_AUTHORIZATION=f"Api-Key {alice.raw_key}")

    assert ApiKey.objects.get(pk=alice.pk).last_used_at is not None
    assert ApiKey.objects.get(pk=bob.pk).last_used_at is None


def test_one_tenants_chatty_bot_does_not_trip_the_breaker_of_another_tenants_bot_in_the_same_group(
    settings, deliver, fake_groupme
):
    settings.BOTS_LOOP_MAX_REPLIES_PER_MINUTE = 2
    alice_bot, bob_bot = (
        BotFactory(tenant=tenant, group=GroupFactory(tenant=tenant, groupme_group_id="1001"))
        for tenant in (TenantFactory(), TenantFactory())
    )
    for bot in (alice_bot, bob_bot):
        RuleFactory(tenant=bot.tenant, bot=bot, pattern="help", response="Hi {name}!")

    for _ in range(4):
        deliver(alice_bot, text="!help")
    deliver(bob_bot, text="!help")

    alice_bot.refresh_from_db()
    bob_bot.refresh_from_db()
    assert alice_bot.is_breaker_open  # more replies in a minute than allowed: Alice's bot stopped itself
    assert not bob_bot.is_breaker_open
    assert Interaction.objects.get(bot=bob_bot).reply_status == Interaction.ReplyStatus.SENT
