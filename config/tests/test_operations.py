import io
import json
import logging

import pytest
from django.conf import settings
from django.test import override_settings
from pythonjsonlogger.json import JsonFormatter

from config.celery import app as celery_app
from config.observability import RequestIdFilter

pytestmark = pytest.mark.django_db

UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"
REDIS_CACHE_DOWN = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": UNREACHABLE_REDIS,
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.1, "SOCKET_TIMEOUT": 0.1, "IGNORE_EXCEPTIONS": True},
    }
}


def test_health_reports_every_dependency(client):
    response = client.get("/health/")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "cache": "ok", "broker": "ok"}}


def test_health_names_the_cache_when_it_is_down(client):
    with override_settings(CACHES=REDIS_CACHE_DOWN):
        response = client.get("/health/")

    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "cache": "error", "broker": "ok"}


def test_health_names_the_broker_when_it_is_down(client, monkeypatch):
    celery_app.conf.task_always_eager = False  # the autouse _celery_inline fixture puts it back
    monkeypatch.setitem(celery_app.conf, "broker_url", UNREACHABLE_REDIS)

    response = client.get("/health/")

    assert response.status_code == 503
    assert response.json()["status"] == "error"
    assert response.json()["checks"]["broker"] == "error"


def test_the_api_keeps_working_while_the_cache_is_down(api):
    with override_settings(CACHES=REDIS_CACHE_DOWN, API_THROTTLE_RATE="1/min"):
        statuses = [api.get("/api/v1/api-keys/").status_code for _ in range(3)]

    assert statuses == [200, 200, 200]  # throttling fails open rather than locking integrators out


def test_openapi_schema_describes_the_api(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/api-keys/{id}/rotate/" in schema["paths"]
    assert schema["components"]["securitySchemes"]["ApiKey"]["type"] == "apiKey"


def test_api_docs_load_without_any_cdn(client):
    response = client.get("/api/docs/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "swagger-ui" in page
    assert "cdn" not in page.lower()
    assert "https://" not in page.split("<body")[0]


def test_unknown_api_paths_answer_json_404(api):
    response = api.get("/api/v1/no-such-thing/")

    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "detail": "Not found."}


def test_every_response_carries_a_request_id_and_keeps_a_well_formed_incoming_one(client):
    generated = client.get("/health/")["X-Request-ID"]
    kept = client.get("/health/", HTTP_X_REQUEST_ID="lb-7f3a9c21d4")["X-Request-ID"]
    replaced = client.get("/health/", HTTP_X_REQUEST_ID="<script>")["X-Request-ID"]

    assert len(generated) == 32
    assert kept == "lb-7f3a9c21d4"
    assert replaced != "<script>"


def test_request_logs_are_json_with_the_request_id(client):
    # The console handler as settings.LOGGING configures it, writing to a buffer instead of stderr.
    formatter_config = {key: value for key, value in settings.LOGGING["formatters"]["json"].items() if key != "()"}
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonFormatter(**formatter_config))
    handler.addFilter(RequestIdFilter())
    logging.getLogger("botyard.request").addHandler(handler)
    try:
        response = client.get("/health/")
    finally:
        logging.getLogger("botyard.request").removeHandler(handler)

    logged = json.loads(buffer.getvalue().splitlines()[-1])
    assert logged["request_id"] == response["X-Request-ID"]
    assert logged["path"] == "/health/"
    assert logged["status"] == 200


def test_request_logs_never_contain_a_callback_token(client, caplog):
    with caplog.at_level(logging.INFO, logger="botyard.request"):
        client.post("/hooks/groupme/s3cr3t-token-that-is-long-enough/", {}, content_type="application/json")

    [record] = [record for record in caplog.records if record.name == "botyard.request"]
    assert record.path == "/hooks/groupme/<token>/"
