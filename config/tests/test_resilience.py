"""A lost database connection is a 503 with Retry-After (config.resilience), anything else stays what it was."""

import pytest
from django.db import InterfaceError, OperationalError, connections
from django.test import Client

from config.resilience import RETRY_AFTER_SECONDS, database_connection_lost


class _DriverError(Exception):
    """What psycopg raises: an exception carrying the server's SQLSTATE (None when the client failed on its own)."""

    def __init__(self, message: str, sqlstate: str | None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


def _operational_error(message: str, *, sqlstate: str | None) -> OperationalError:
    error = OperationalError(message)
    error.__cause__ = _DriverError(message, sqlstate)  # Django's wrapper raises it `from` the driver's error
    return error


def _database_fails(monkeypatch, error: Exception) -> None:
    def fails(**kwargs):
        raise error

    monkeypatch.setattr("bots.views.bot_get_by_callback_token", fails)


def test_a_callback_during_a_database_shutdown_is_a_503_with_retry_after(client, monkeypatch):
    _database_fails(monkeypatch, _operational_error("terminating connection due to administrator command",
                                                    sqlstate="57P01"))  # fmt: skip

    response = client.post("/hooks/groupme/some-token/", {}, content_type="application/json")

    assert response.status_code == 503
    assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert response.json()["code"] == "database_unavailable"
    assert "X-Request-ID" in response  # the rest of the middleware still ran


def test_an_api_request_on_a_closed_connection_is_a_503(client, monkeypatch):
    def closed(**kwargs):
        raise InterfaceError("connection already closed")

    monkeypatch.setattr("tenants.api.authentication.api_key_get_for_authentication", closed)

    response = client.get("/api/v1/bots/", HTTP_AUTHORIZATION="Api-Key byd_0123456789ab_secret")

    assert response.status_code == 503
    assert response.json() == {
        "code": "database_unavailable",
        "detail": "The database is unreachable for a moment; try again shortly.",
    }


def test_a_browser_gets_the_503_as_plain_text(client, monkeypatch):
    _database_fails(monkeypatch, _operational_error("could not connect to server", sqlstate="08006"))

    response = client.post(
        "/hooks/groupme/some-token/", {}, content_type="application/json", HTTP_ACCEPT="text/html,*/*;q=0.8"
    )

    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/plain")
    assert b"try again shortly" in response.content


@pytest.mark.parametrize(
    ("sqlstate", "why"),
    [("40P01", "a deadlock"), ("57014", "a statement timeout"), ("42P01", "a missing table")],
)
def test_a_failing_statement_on_a_live_connection_stays_a_500(monkeypatch, sqlstate, why):
    _database_fails(monkeypatch, _operational_error(why, sqlstate=sqlstate))

    response = Client(raise_request_exception=False).post(
        "/hooks/groupme/some-token/", {}, content_type="application/json"
    )

    assert response.status_code == 500


@pytest.mark.django_db
def test_a_driver_error_without_sqlstate_is_an_outage_only_when_the_connection_is_gone(monkeypatch):
    refused = _operational_error("connection refused", sqlstate=None)
    connection = connections["default"]  # the wrapper itself: monkeypatch must not undo through the proxy
    connection.ensure_connection()

    assert not database_connection_lost(refused)  # e.g. SQLite's "no such table": the connection is fine

    monkeypatch.setattr(connection, "connection", None)  # connecting failed in this request
    monkeypatch.setattr(connection, "errors_occurred", True)
    assert database_connection_lost(refused)


def test_other_exceptions_are_left_alone():
    assert not database_connection_lost(ValueError("not a database error"))
    assert database_connection_lost(InterfaceError("connection already closed"))
