"""Fixtures shared by every app's tests: three tenants (the third must see nothing), API clients, a real worker."""

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from rest_framework.test import APIClient

from bots.fake_groupme import FakeGroupMe
from bots.tests.callbacks import callback_payload
from config.celery import app as celery_app
from tenants.models import Role, Tenant
from tenants.tests.factories import ApiKeyFactory, MembershipFactory, TenantFactory, UserFactory

ROOT = Path(__file__).resolve().parent


@pytest.fixture(autouse=True)
def _fast_reply_retries(settings) -> None:
    settings.BOTS_REPLY_RETRY_BASE_SECONDS = 0.01
    settings.BOTS_REPLY_RETRY_MAX_SECONDS = 0.05


@pytest.fixture(autouse=True)
def _celery_inline(request: pytest.FixtureRequest) -> Iterator[None]:
    """Unit tests run tasks inline; tests that use the real `celery_worker` fixture go through the broker."""
    if "celery_worker" in request.fixturenames:
        yield
        return
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture
def tenant(db):
    return TenantFactory(name="Alice's Anglers", slug="alices-anglers")


@pytest.fixture
def other_tenant(db):
    return TenantFactory(name="Bob's Bakers", slug="bobs-bakers")


@pytest.fixture
def third_tenant(db):
    return TenantFactory(name="Charlie's Chess", slug="charlies-chess")


@pytest.fixture
def api_client_for() -> Callable[[Tenant], APIClient]:
    """An API client holding a fresh key of the given tenant (the key is on `client.api_key`)."""

    def build(tenant):
        api_key = ApiKeyFactory(tenant=tenant)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key.raw_key}")
        client.api_key = api_key
        return client

    return build


@pytest.fixture
def api(tenant: Tenant, api_client_for: Callable[[Tenant], APIClient]) -> APIClient:
    return api_client_for(tenant)


@pytest.fixture
def owner_client(tenant, client):
    """The Django test client, logged in as an owner of `tenant`."""
    membership = MembershipFactory(tenant=tenant, user=UserFactory(email="alice@example.com"), role=Role.OWNER)
    client.force_login(membership.user)
    return client


def _require_services() -> None:
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        pytest.skip("integration test: needs DATABASE_URL (PostgreSQL) and REDIS_URL")


@pytest.fixture
def fake_groupme(settings) -> Iterator[FakeGroupMe]:
    """The project's fake GroupMe on a free loopback port; GROUPME_API_URL points at it for this test."""
    with FakeGroupMe() as fake:
        settings.GROUPME_API_URL = fake.base_url
        yield fake


@pytest.fixture
def deliver(client, django_capture_on_commit_callbacks) -> Callable[..., Any]:
    """POST a GroupMe callback to a bot's callback URL, running what it enqueued (inline) before returning."""

    def post(bot: Any, **fields: Any) -> Any:
        payload = fields.pop("payload", None) or callback_payload(bot, **fields)
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                f"/hooks/groupme/{bot.callback_token}/", payload, content_type="application/json",
                HTTP_USER_AGENT="GroupMeBotNotifier/1.0",
            )  # fmt: skip

    return post


@pytest.fixture
def celery_worker(transactional_db: None, fake_groupme: FakeGroupMe) -> Iterator[str]:
    """A real `celery worker` process on the test database and a queue of its own; yields the queue name."""
    _require_services()
    queue = f"test-{uuid.uuid4().hex[:10]}"
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.test_settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "GROUPME_API_URL": fake_groupme.base_url,
        "BOTS_REPLY_RETRY_BASE_SECONDS": "0.05",
        "BOTS_REPLY_RETRY_MAX_SECONDS": "0.2",
    }
    node = f"{queue}@localhost"
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "-Q", queue, "-n", node,
         "--without-gossip", "--without-mingle", "--loglevel=WARNING"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    previous_queue = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = queue
    try:
        deadline = time.monotonic() + 30
        while not celery_app.control.ping(destination=[node], timeout=0.5):
            if worker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"celery worker did not start: {worker.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        yield queue
    finally:
        celery_app.conf.task_default_queue = previous_queue
        worker.terminate()
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()


@pytest.fixture
def wait_for() -> Callable[..., object]:
    """Poll until `condition()` is truthy, with a deadline: tests never sleep a fixed time for work to happen."""

    def poll(condition: Callable[[], object], *, timeout: float = 20, message: str = "condition") -> object:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = condition()
            if result:
                return result
            time.sleep(0.05)
        raise AssertionError(f"timed out after {timeout}s waiting for {message}")

    return poll


CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Debian's chromium driven by Playwright (never a downloaded browser); skipped where it is not installed."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"browser test: needs {CHROMIUM} (apt-get install -y chromium)")
    from playwright.sync_api import expect, sync_playwright

    # Waits are generous: the suite shares two cores with a Celery worker and the live server. They only bound how
    # long a failing expectation takes to report; a passing one returns as soon as it holds.
    expect.set_options(timeout=15_000)

    # Playwright's sync API runs an event loop in this thread; the ORM calls the tests make around it are safe.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


@pytest.fixture
def browser_page(chromium: Any, live_server: Any) -> Iterator[Any]:
    """A fresh browser context (own cookies, clipboard allowed) on the live server; `page.base` is its URL."""
    context = chromium.new_context(
        base_url=live_server.url, permissions=["clipboard-read", "clipboard-write"], accept_downloads=True
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.base = live_server.url
    yield page
    context.close()


@pytest.fixture
def browser_login(browser_page: Any) -> Callable[..., Any]:
    """Log `user` in through the real login form; returns the page."""

    def login(user: Any, password: str = "pw-for-browser-tests") -> Any:  # noqa: S107 - a test password
        user.set_password(password)
        user.save(update_fields=["password"])
        browser_page.goto("/accounts/login/")
        browser_page.get_by_label("E-mail address").fill(user.email)
        browser_page.get_by_label("Password").fill(password)
        browser_page.get_by_role("button", name="Log in").click()
        browser_page.wait_for_load_state()
        return browser_page

    return login
