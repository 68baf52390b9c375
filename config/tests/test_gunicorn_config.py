"""The contract's plain `gunicorn config.wsgi` runs production's configuration: gunicorn reads ./gunicorn.conf.py,
which takes config/gunicorn.conf.py's settings."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).with_name("gunicorn")


def _resolved_config(*args: str, cwd: Path = ROOT, **env: str) -> dict[str, str]:
    """`gunicorn --print-config <args> config.wsgi`: the settings as gunicorn resolved them (it loads the app too)."""
    if not GUNICORN.exists():
        pytest.skip("gunicorn is not installed beside this interpreter")
    clean = {name: value for name, value in os.environ.items()
             if name != "WEB_CONCURRENCY" and not name.startswith("GUNICORN_")}  # fmt: skip
    completed = subprocess.run(
        [str(GUNICORN), "--print-config", *args, "config.wsgi"], cwd=cwd, capture_output=True, text=True, timeout=60,
        env={**clean, "DEBUG": "true", "PYTHONPATH": str(ROOT), **env},
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-2000:]
    return dict(re.findall(r"^(\w+) += (.*)$", completed.stdout, flags=re.MULTILINE))


def test_the_plain_command_runs_gthread_workers_one_per_core():
    config = _resolved_config()

    assert config["config"] == "./gunicorn.conf.py"
    assert (config["worker_class"], config["threads"]) == ("gthread", "8")
    assert config["workers"] == str(os.cpu_count() or 1)
    assert (config["backlog"], config["keepalive"], config["accesslog"]) == ("2048", "5", "None")


def test_the_plain_command_reads_the_same_environment_overrides_as_the_production_file():
    plain = _resolved_config(WEB_CONCURRENCY="3", GUNICORN_THREADS="4", GUNICORN_BIND="127.0.0.1:8123")
    explicit = _resolved_config("-c", "config/gunicorn.conf.py", WEB_CONCURRENCY="3", GUNICORN_THREADS="4",
                                GUNICORN_BIND="127.0.0.1:8123")  # fmt: skip

    assert (plain["workers"], plain["threads"], plain["bind"]) == ("3", "4", "['127.0.0.1:8123']")
    assert {name: value for name, value in plain.items() if name != "config"} == {
        name: value for name, value in explicit.items() if name != "config"
    }


def test_without_the_file_gunicorn_falls_back_to_its_single_sync_worker(tmp_path):
    """What the root file is for: run elsewhere, the plain command gets gunicorn's defaults."""
    config = _resolved_config(cwd=tmp_path)

    assert (config["worker_class"], config["workers"]) == ("sync", "1")


@pytest.mark.parametrize(
    ("broker_url", "transport_module"),
    [
        ("redis://127.0.0.1:1/0", "kombu.transport.redis"),
        ("amqp://guest:guest@127.0.0.1:1//", "kombu.transport.pyamqp"),
    ],
)
def test_loading_the_app_imports_the_cache_client_and_the_broker_transport_before_any_thread_serves(
    broker_url, transport_module
):
    """redis-py imports itself in a cycle; two gthread threads making that first import at once deadlock, and Python
    breaks it with an ImportError: a 500. Loaded with the app, the import happens while the worker has one thread."""
    wanted = ("redis.client", "django_redis.client.default", transport_module)
    probe = f"import sys, config.wsgi; print(*[name for name in {wanted!r} if name not in sys.modules])"
    clean = {name: value for name, value in os.environ.items() if name not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    completed = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={**clean, "DEBUG": "true", "REDIS_URL": "redis://127.0.0.1:1/0", "CELERY_BROKER_URL": broker_url},
    )  # fmt: skip

    assert completed.returncode == 0, completed.stderr[-2000:]
    assert completed.stdout.split() == []  # nothing it needs is left to import on a serving thread


def test_loading_the_app_puts_what_it_loaded_beyond_the_garbage_collectors_full_collections():
    """A worker's full collections walk every tracked object; what loading the app made (modules, models, the URL
    configuration) lives as long as the worker, so it is frozen: a full collection then walks only what requests
    left behind."""
    probe = "import gc, config.wsgi; print(gc.get_freeze_count(), len(gc.get_objects()))"
    clean = {name: value for name, value in os.environ.items() if name not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    completed = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={**clean, "DEBUG": "true", "REDIS_URL": "redis://127.0.0.1:1/0"},
    )  # fmt: skip

    assert completed.returncode == 0, completed.stderr[-2000:]
    frozen, tracked = map(int, completed.stdout.split())
    assert frozen > 50_000  # ~115,000 here
    assert tracked < 1_000
