"""GroupMe's HTTP API, as far as Botyard uses it. Every call goes to settings.GROUPME_API_URL."""

import logging
from dataclasses import dataclass
from functools import cache
from typing import Any

import requests
import urllib3
from django.conf import settings

logger = logging.getLogger("botyard.groupme")

TIMEOUT_SECONDS = (3.05, 10)  # connect, read


class GroupMeError(Exception):
    def __init__(self, message: str, *, status_code: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.retry_after = retry_after


class GroupMeRetryableError(GroupMeError):
    """429, 5xx, timeouts and connection failures: the same call may well succeed later."""


class GroupMeOutcomeUnknownError(GroupMeRetryableError):
    """The request left, and no answer came back (a read timeout, a connection dropped after sending): GroupMe
    may have acted on it. Safe to repeat for a read; a post repeated could appear twice (no idempotency key)."""


class GroupMeRejectedError(GroupMeError):
    """Any other 4xx: retrying the same call will not help."""


@dataclass(frozen=True)
class GroupMeGroup:
    group_id: str
    name: str
    member_count: int
    members: list[dict[str, Any]]


@cache
def _session() -> requests.Session:
    session = requests.Session()  # keep-alive: one TCP/TLS handshake per worker, not per post
    session.headers["User-Agent"] = "Botyard/1.0"
    return session


def _call(method: str, path: str, *, token: str | None = None, json: Any = None, params: Any = None) -> Any:
    url = f"{settings.GROUPME_API_URL}{path}"
    if token is not None and not (token.isascii() and token.isprintable()):
        # It goes into a header; GroupMe's tokens are plain ASCII, so anything else cannot be one.
        raise GroupMeRejectedError(f"{method} {path}: not a GroupMe access token", status_code=401)
    headers = {"X-Access-Token": token} if token else {}
    try:
        response = _session().request(method, url, json=json, params=params, headers=headers, timeout=TIMEOUT_SECONDS)
    except requests.RequestException as exc:
        if _never_sent(exc):
            raise GroupMeRetryableError(f"{method} {path}: {type(exc).__name__}") from exc
        raise GroupMeOutcomeUnknownError(f"{method} {path}: {type(exc).__name__} after sending") from exc
    if 200 <= response.status_code < 300:
        if not response.content:
            return None
        try:
            body = response.json()
        except ValueError:
            return None
        return body.get("response") if isinstance(body, dict) else body
    retry_after = _retry_after_seconds(response.headers.get("Retry-After"))
    message = f"{method} {path}: HTTP {response.status_code}"
    if response.status_code == 429 or response.status_code >= 500:
        raise GroupMeRetryableError(message, status_code=response.status_code, retry_after=retry_after)
    raise GroupMeRejectedError(message, status_code=response.status_code)


def _never_sent(exc: requests.RequestException) -> bool:
    """Whether the request certainly did not reach GroupMe: no connection was made (refused, unresolvable, timed
    out while connecting)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(exc, requests.ConnectionError) and isinstance(
        reason, (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError)
    )


def _retry_after_seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def bot_post(*, bot_id: str, text: str) -> None:
    """POST /bots/post. Success is any 2xx; GroupMe returns no message id."""
    _call("POST", "/bots/post", json={"bot_id": bot_id, "text": text})


def bot_create(*, token: str, name: str, group_id: str, callback_url: str, avatar_url: str = "") -> str:
    """POST /bots; returns the new bot's id."""
    bot = {"name": name, "group_id": group_id, "callback_url": callback_url, "dm_notification": False}
    if avatar_url:
        bot["avatar_url"] = avatar_url
    response = _call("POST", "/bots", token=token, json={"bot": bot})
    try:
        return str(response["bot"]["bot_id"])
    except (TypeError, KeyError) as exc:
        raise GroupMeRejectedError("POST /bots: no bot_id in GroupMe's answer") from exc


def bot_destroy(*, token: str, bot_id: str) -> None:
    _call("POST", "/bots/destroy", token=token, json={"bot_id": bot_id})


def _group(raw: dict[str, Any]) -> GroupMeGroup:
    members = raw.get("members") or []
    return GroupMeGroup(
        group_id=str(raw.get("group_id") or raw.get("id")),
        name=str(raw.get("name") or ""),
        member_count=len(members),
        members=members,
    )


def groups_list(*, token: str) -> list[GroupMeGroup]:
    """The groups the token's user belongs to (first 100, most recently active first)."""
    response = _call("GET", "/groups", token=token, params={"per_page": 100, "omit": ""})
    return [_group(raw) for raw in response or []]


def group_get(*, token: str, group_id: str) -> GroupMeGroup:
    return _group(_call("GET", f"/groups/{group_id}", token=token))
