"""PostgreSQL stopped and started again under Botyard's feet: a private cluster (initdb in a temporary directory,
on a free port) holding a copy of the migrated test database, gunicorn with 2 workers on it.

During the outage callbacks, API requests and /health/ answer 503 with Retry-After (never 500); when PostgreSQL
is back they succeed again, served by the same gunicorn workers: Django drops a broken connection at the end of
the request, and CONN_HEALTH_CHECKS replaces a dead idle one before it is used.
"""

import json
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.db import connection

from bots.tests.factories import BotFactory, RuleFactory
from config.resilience import RETRY_AFTER_SECONDS
from config.tests.faults.conftest import botyard_environment
from config.tests.faults.traffic import Traffic, seconds_summary
from groups.models import Message
from groups.tests.factories import GroupFactory
from tenants.tests.factories import ApiKeyFactory

pytestmark = [pytest.mark.integration, pytest.mark.faults]
HARD_TIMEOUT_SECONDS = 120

DATABASE = "botyard"
KINDS = ("callback", "api", "health")


@pytest.fixture
def botyard_on_private_postgres(
    tenant, test_database_url, private_postgres, private_redis, fake_groupme, start_gunicorn, queue_name
):
    """A bot with a rule and an API key, copied into the private cluster, and gunicorn serving it from there."""
    bot = BotFactory(tenant=tenant, group=GroupFactory(tenant=tenant, groupme_group_id="1001"))
    RuleFactory(tenant=tenant, bot=bot, pattern="help", response="Hi {name}!")
    api_key = ApiKeyFactory(tenant=tenant)
    private_postgres.copy_database(source=connection.settings_dict, name=DATABASE)
    environment = botyard_environment(
        database=private_postgres.url(DATABASE), redis=private_redis.url(0), queue=queue_name,
        groupme=fake_groupme.base_url, API_THROTTLE_RATE="100000/min",
    )  # fmt: skip
    return bot, api_key.raw_key, start_gunicorn(environment)


def _stored_ids(cluster) -> list[str]:
    rows = cluster.psql(DATABASE, f"SELECT groupme_message_id FROM {Message._meta.db_table}")  # noqa: S608
    return rows.split("\n") if rows else []


def _backends(cluster) -> set[str]:
    pids = cluster.psql(DATABASE, "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                  "AND backend_type = 'client backend' AND pid <> pg_backend_pid()")  # fmt: skip
    return set(pids.split()) if pids else set()


def test_requests_during_a_postgresql_crash_are_503s_and_succeed_again_on_the_same_workers(
    botyard_on_private_postgres, private_postgres, measure
):
    bot, api_key, web = botyard_on_private_postgres
    workers_before = web.worker_pids()
    traffic = Traffic(base_url=web.base_url, bot=bot, api_key=api_key, id_prefix="pg-").start()
    try:
        traffic.wait_for("callback", 20, statuses=[202])
        traffic.wait_for("api", 5, statuses=[200])
        traffic.phase = "outage"
        stopped_at = time.monotonic()
        private_postgres.stop(mode="immediate")  # a crash: no checkpoint, every session cut
        for kind, count in (("callback", 10), ("api", 3), ("health", 2)):
            traffic.wait_for(kind, count, phase="outage", statuses=[503])
        private_postgres.start()  # returns once PostgreSQL accepts connections (after crash recovery)
        traffic.phase = "after"
        ready_at = time.monotonic()
        traffic.wait_for("callback", 20, phase="after", statuses=[202])
        traffic.wait_for("api", 5, phase="after", statuses=[200])
    finally:
        traffic.stop()

    # GroupMe redelivers a callback that did not get a 2xx; the copies that had been stored are duplicates (200).
    failed = [answer for answer in traffic.answers("callback") if answer.status not in (200, 202)]
    traffic.phase = "redelivery"
    with requests.Session() as session:
        for answer in failed:
            traffic.send_callback(session, key=answer.key, text=answer.text)
    redelivered = traffic.answers("callback", "redelivery")

    after = traffic.answers("callback", "after") + traffic.answers("api", "after")
    first_success = min(a.sent_at for a in after if 200 <= a.status < 300)
    unavailable = [a for kind in ("callback", "api") for a in traffic.answers(kind) if a.status == 503]
    phases = ("before", "outage", "after")
    measure(
        outage_seconds=round(ready_at - stopped_at, 1),
        statuses={kind: {phase: dict(traffic.statuses(kind, phase)) for phase in phases} for kind in KINDS},
        answers_503=len(unavailable),
        latency_of_503s=seconds_summary(unavailable),
        seconds_from_postgresql_ready_to_first_success=round(max(0.0, first_success - ready_at), 2),
        callbacks_redelivered=dict(Counter(answer.status for answer in redelivered)),
    )
    for kind in ("callback", "api"):
        assert set(traffic.statuses(kind)) <= {200, 202, 503}, f"{kind}: never a 500, never a dropped connection"
        assert traffic.statuses(kind, "outage")[503] >= 1
    assert all(a.retry_after == str(RETRY_AFTER_SECONDS) for a in unavailable)
    assert all(json.loads(a.body)["code"] == "database_unavailable" for a in unavailable)
    health = [a for a in traffic.answers("health", "outage") if a.status == 503]
    assert health
    assert all(json.loads(a.body)["checks"]["database"] == "error" for a in health)
    # Recovered on the same processes: nothing was restarted, and the last requests all succeeded.
    assert web.worker_pids() == workers_before
    assert [a.status for a in traffic.answers("callback", "after")[-10:]] == [202] * 10
    assert [a.status for a in traffic.answers("api", "after")[-3:]] == [200] * 3
    # Every callback answered 2xx survived the crash; with the redeliveries, each one is stored exactly once.
    assert {a.status for a in redelivered} <= {200, 202}
    keys = {answer.key for answer in traffic.answers("callback")}
    stored = _stored_ids(private_postgres)
    assert len(stored) == len(set(stored))
    assert set(stored) == keys


def test_idle_connections_are_replaced_after_a_postgresql_restart_without_a_failed_request(
    botyard_on_private_postgres, private_postgres, measure
):
    _, api_key, web = botyard_on_private_postgres
    headers = {"Authorization": f"Api-Key {api_key}"}

    def get(_: int) -> int:
        return requests.get(f"{web.base_url}/api/v1/interactions/", headers=headers, timeout=10).status_code

    with ThreadPoolExecutor(max_workers=4) as pool:
        for _ in range(50):  # until the workers' threads hold persistent connections (CONN_MAX_AGE=60)
            assert set(pool.map(get, range(8))) == {200}
            if len(_backends(private_postgres)) >= web.workers:
                break
        before = _backends(private_postgres)
        private_postgres.stop(mode="fast")  # a clean restart: every session is terminated
        private_postgres.start()
        statuses = list(pool.map(get, range(40)))

    after = _backends(private_postgres)
    measure(connections_before=len(before), connections_after=len(after), statuses=dict(Counter(statuses)))
    assert before
    assert statuses == [200] * 40  # the dead connections were noticed before use, not by a failed request
    assert after
    assert after.isdisjoint(before)
