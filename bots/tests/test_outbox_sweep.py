"""Beat runs the outbox sweeper every 30 s: with nothing to do it must cost next to nothing, and running it again
must change nothing that the first run settled."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bots import tasks
from bots.models import Interaction, ReplyPart
from bots.outbox import MESSAGE_GRACE, STALE_CLAIM, outbox_sweep
from bots.tests.factories import InteractionFactory
from config.celery import app as celery_app

pytestmark = pytest.mark.django_db


@pytest.fixture
def published(monkeypatch):
    """What the sweeper hands the broker (nothing runs: as with a real broker and no worker yet)."""
    sent = []
    celery_app.conf.task_always_eager = False  # the autouse _celery_inline fixture puts it back
    for task in (tasks.process_messages, tasks.send_reply):
        monkeypatch.setattr(task, "apply_async", lambda *a, name=task.name, **kw: sent.append((name, kw["args"])))
    return sent


def _reply(tenant, *, status, ago, attempts=1, reply_status=Interaction.ReplyStatus.PENDING):
    interaction = InteractionFactory(tenant=tenant, reply_status=reply_status, reply_text="Hi!")
    part = ReplyPart.objects.create(tenant=tenant, interaction=interaction, sequence=0, text="Hi!", status=status,
                                    attempts=attempts)  # fmt: skip
    ReplyPart.objects.filter(pk=part.pk).update(updated_at=timezone.now() - ago)
    return interaction


def test_an_idle_sweep_is_three_statements_and_publishes_nothing(tenant, published):
    # History that is done: sent replies, none pending. Their number must not matter (indexed, partial scans).
    for _ in range(3):
        _reply(tenant, status=ReplyPart.Status.SENT, ago=timedelta(hours=1), reply_status="sent")

    with CaptureQueriesContext(connection) as queries:
        report = outbox_sweep()

    # The stale claims released, the unprocessed messages, the unfinished replies.
    assert len(queries.captured_queries) == 3
    assert report == {"messages": 0, "replies": 0, "published": 0, "claims_released": 0}
    assert published == []


def test_sweeping_twice_publishes_the_same_work_and_releases_a_dead_claim_once(tenant, published):
    lost = _reply(tenant, status=ReplyPart.Status.PENDING, ago=MESSAGE_GRACE * 2, attempts=0)
    claimed = _reply(tenant, status=ReplyPart.Status.SENDING, ago=STALE_CLAIM * 2)
    _reply(tenant, status=ReplyPart.Status.PENDING, ago=timedelta(seconds=1), attempts=0)  # on its way: left alone

    first, second = outbox_sweep(), outbox_sweep()

    assert (first["claims_released"], second["claims_released"]) == (1, 0)
    assert ReplyPart.objects.get(interaction=claimed).status == ReplyPart.Status.UNCERTAIN
    # The uncertain part's echo is awaited from its claim on (updated_at kept), which is long past: republished.
    expected = {("bots.tasks.send_reply", (str(tenant.pk), str(pk))) for pk in (lost.pk, claimed.pk)}
    assert set(published[: len(published) // 2]) == expected == set(published[len(published) // 2 :])
