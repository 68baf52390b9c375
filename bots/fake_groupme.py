"""A fake GroupMe API that the project ships for tests, the demo and benchmarks; GroupMe itself is never called.

Point the setting `GROUPME_API_URL` at `FakeGroupMe(...).start().base_url`, or run `manage.py fake_groupme`.
It follows GroupMe's public docs for the calls Botyard makes (bot posts, bot creation and destruction, groups),
can echo bot posts to the bots' callback URLs as GroupMe does, and has a control API under `/_fake/` (mirrored
by Python methods) to inject faults and inspect what was received.

Standard library only and no Django import, so it also runs standalone: `python -m bots.fake_groupme`.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import json
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

JsonObject = dict[str, Any]

DEFAULT_TOKEN = "fake-token"  # noqa: S105 - a fake user token, documented for tests and the demo
MAX_TEXT_LENGTH = 1000
CALLBACK_USER_AGENT = "GroupMeBotNotifier/1.0"
CALLBACK_TIMEOUT_SECONDS = 5.0
DEFAULT_PER_PAGE = 10
MAX_PER_PAGE = 500
SEED_TIMESTAMP = 1_700_000_000


def default_accounts() -> dict[str, list[JsonObject]]:
    """One user token with two groups of three members (Alice is in both); the fake's state after `reset()`."""
    return {
        DEFAULT_TOKEN: [
            {
                "id": "1001",
                "name": "Anglers",
                "description": "Fishing trips and tall tales",
                "members": [
                    {"user_id": "2001", "nickname": "Alice"},
                    {"user_id": "2002", "nickname": "Bob"},
                    {"user_id": "2003", "nickname": "Charlie"},
                ],
            },
            {
                "id": "1002",
                "name": "Bakers",
                "description": "Sourdough support group",
                "members": [
                    {"user_id": "2001", "nickname": "Alice"},
                    {"user_id": "2004", "nickname": "Dana"},
                    {"user_id": "2005", "nickname": "Erin"},
                ],
            },
        ]
    }


class SeedError(ValueError):
    """An account, group, member, fault or bot given to the fake is malformed."""


def _required_text(source: JsonObject, key: str, *, what: str) -> str:
    value = source.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value:
        raise SeedError(f"{what} needs a non-empty string {key!r}")
    return value


def _member_from_seed(seed: object, *, group_id: str) -> JsonObject:
    if not isinstance(seed, dict):
        raise SeedError("each member must be an object")
    user_id = _required_text(seed, "user_id", what="a member")
    return {
        "user_id": user_id,
        "nickname": str(seed.get("nickname") or f"User {user_id}"),
        "image_url": seed.get("image_url"),
        "id": str(seed.get("id") or f"{group_id}{user_id}"),
        "muted": bool(seed.get("muted", False)),
        "autokicked": bool(seed.get("autokicked", False)),
        "roles": list(seed.get("roles") or ["user"]),
    }


def _group_from_seed(seed: object) -> JsonObject:
    """A group in GroupMe's shape from a seed that needs only an id, a name and members' user ids."""
    if not isinstance(seed, dict):
        raise SeedError("each group must be an object")
    group_id = _required_text(seed, "id" if "id" in seed else "group_id", what="a group")
    name = _required_text(seed, "name", what="a group")
    member_seeds = seed.get("members", [])
    if not isinstance(member_seeds, list):
        raise SeedError("a group's members must be a list")
    members = [_member_from_seed(member, group_id=group_id) for member in member_seeds]
    created_at = int(seed.get("created_at", SEED_TIMESTAMP))
    return {
        "id": group_id,
        "group_id": group_id,
        "name": name,
        "type": str(seed.get("type", "private")),
        "description": str(seed.get("description", "")),
        "image_url": seed.get("image_url"),
        "creator_user_id": str(seed.get("creator_user_id") or (members[0]["user_id"] if members else "")),
        "created_at": created_at,
        "updated_at": int(seed.get("updated_at", created_at)),
        "members": members,
        "messages": {"count": 0, "last_message_id": None, "last_message_created_at": None},
    }


@dataclass
class Fault:
    """The next `times` requests to `path` wait `delay_ms`, then answer `status` (or normally when it is None)."""

    path: str
    status: int | None = None
    times: int | None = 1
    delay_ms: float = 0
    retry_after: int | None = None

    def __post_init__(self) -> None:
        if not self.path.startswith("/"):
            raise SeedError("a fault's path must start with '/', e.g. '/v3/bots/post'")
        if self.status is not None and not 100 <= self.status <= 599:
            raise SeedError("a fault's status must be an HTTP status code or null")
        if self.times is not None and self.times < 1:
            raise SeedError("a fault's times must be a positive integer, or null for 'until cleared'")
        if self.delay_ms < 0:
            raise SeedError("a fault's delay_ms cannot be negative")
        if self.status is None and not self.delay_ms:
            raise SeedError("a fault needs a status, a delay_ms, or both")

    def as_json(self) -> JsonObject:
        return {
            "path": self.path,
            "status": self.status,
            "times": self.times,
            "delay_ms": self.delay_ms,
            "retry_after": self.retry_after,
        }


@dataclass
class _Bot:
    bot_id: str
    group_id: str
    name: str
    avatar_url: str | None = None
    callback_url: str | None = None
    dm_notification: bool = False
    # Bots created over /v3/bots belong to a token; bots registered through the control API to nobody.
    owner_token: str | None = None

    def as_json(self) -> JsonObject:
        return {
            "bot_id": self.bot_id,
            "group_id": self.group_id,
            "name": self.name,
            "avatar_url": self.avatar_url,
            "callback_url": self.callback_url,
            "dm_notification": self.dm_notification,
        }


@dataclass
class _Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json_body(self) -> JsonObject:
        if not self.body.strip():
            return {}
        try:
            parsed = json.loads(self.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SeedError(f"the body is not valid JSON: {exc}") from exc
        if not isinstance(parsed, dict):
            raise SeedError("the body must be a JSON object")
        return parsed

    def query_value(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class _Reply:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)


def _json_reply(status: int, payload: object) -> _Reply:
    return _Reply(status=status, body=json.dumps(payload).encode())


def _envelope(status: int, response: object) -> _Reply:
    return _json_reply(status, {"response": response, "meta": {"code": status}})


def _envelope_error(status: int, *errors: str) -> _Reply:
    return _json_reply(status, {"response": None, "meta": {"code": status, "errors": list(errors)}})


class FakeGroupMe:
    """A GroupMe API on a local port; thread-safe, so tests, the server's threads and echo deliveries can share it."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        echo_bot_posts: bool = False,
        accounts: dict[str, list[JsonObject]] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        # Read by request threads without the lock: flipping a bool is atomic, and either value is fine mid-flight.
        self.echo_bot_posts = echo_bot_posts
        self._seed_accounts = copy.deepcopy(accounts) if accounts is not None else default_accounts()
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._message_ids = itertools.count(170_000_000_000_000_001)
        self._reset_state()

    # -- lifecycle ------------------------------------------------------------------------------------------

    def start(self) -> FakeGroupMe:
        if self._server is not None:
            raise RuntimeError("this FakeGroupMe is already running")
        self._stopping.clear()
        self._server = _Server((self.host, self.port), self)
        self.port = self._server.server_address[1]
        # A short poll interval makes stop() quick: tests start and stop one fake each.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-groupme", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.close_open_connections()
        server.server_close()
        if thread is not None:
            thread.join()
        self._server = self._thread = None

    def __enter__(self) -> FakeGroupMe:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """The value for GROUPME_API_URL, e.g. http://127.0.0.1:54321/v3."""
        if self._server is None:
            raise RuntimeError("start the FakeGroupMe before asking for its URL")
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host  # noqa: S104 - a wildcard is not dialable
        return f"http://{host}:{self.port}/v3"

    # -- state, seeding and inspection ----------------------------------------------------------------------

    def _reset_state(self) -> None:
        with self._lock:
            self._groups: dict[str, JsonObject] = {}
            self._group_ids_by_token: dict[str, list[str]] = {}
            self._bots: dict[str, _Bot] = {}
            self._destroyed_bot_ids: set[str] = set()
            self._posts: list[JsonObject] = []
            self._deliveries: list[JsonObject] = []
            self._faults: list[Fault] = []
            self._request_counts: Counter[tuple[str, int]] = Counter()
            # Echo deliveries still in flight from before a reset must not land in the fresh state.
            self._generation = getattr(self, "_generation", 0) + 1
            for token, groups in self._seed_accounts.items():
                self.add_account(token=token, groups=groups)
            self._changed.notify_all()

    def reset(self) -> None:
        """Back to the accounts given to the constructor (or the defaults), with no bots, posts or faults."""
        self._reset_state()

    def add_account(self, *, token: str, groups: Iterable[JsonObject]) -> None:
        """Give `token` these groups (replacing what it had); a group id seen before is redefined for everyone."""
        if not isinstance(token, str) or not token:
            raise SeedError("an account needs a non-empty string token")
        normalized = [_group_from_seed(group) for group in groups]
        with self._lock:
            for group in normalized:
                self._groups[group["id"]] = group
            self._group_ids_by_token[token] = [group["id"] for group in normalized]

    def register_bot(
        self,
        *,
        bot_id: str,
        group_id: str,
        name: str,
        callback_url: str | None = None,
        avatar_url: str | None = None,
    ) -> None:
        """Make a bot known, as if created earlier; its group need not be one of the seeded groups."""
        bot = _Bot(bot_id=bot_id, group_id=str(group_id), name=name, avatar_url=avatar_url, callback_url=callback_url)
        with self._lock:
            self._bots[bot_id] = bot
            self._destroyed_bot_ids.discard(bot_id)

    def destroy_bot(self, bot_id: str) -> None:
        """Forget a bot as GroupMe does when it is deleted: its later posts get 404 (known or not before)."""
        with self._lock:
            self._bots.pop(bot_id, None)
            self._destroyed_bot_ids.add(bot_id)

    @property
    def bots(self) -> list[JsonObject]:
        with self._lock:
            return [bot.as_json() for bot in self._bots.values()]

    @property
    def posts(self) -> list[JsonObject]:
        """Every accepted bot post in arrival order: bot_id, text, attachments, received_at (epoch seconds)."""
        with self._lock:
            return copy.deepcopy(self._posts)

    def clear_posts(self) -> None:
        with self._lock:
            self._posts.clear()

    @property
    def deliveries(self) -> list[JsonObject]:
        """Echo callbacks attempted: callback_url, bot_id, message_id, status (None on failure), error."""
        with self._lock:
            return copy.deepcopy(self._deliveries)

    def wait_for_posts(self, count: int, *, timeout: float = 10.0) -> list[JsonObject]:
        """All posts once at least `count` have arrived; TimeoutError at the deadline."""
        self._wait_until(lambda: len(self._posts) >= count, timeout=timeout, expected=f"{count} bot posts")
        return self.posts

    def wait_for_deliveries(self, count: int, *, timeout: float = 10.0) -> list[JsonObject]:
        """All echo deliveries once at least `count` were attempted; TimeoutError at the deadline."""
        self._wait_until(lambda: len(self._deliveries) >= count, timeout=timeout, expected=f"{count} deliveries")
        return self.deliveries

    def _wait_until(self, condition: Callable[[], bool], *, timeout: float, expected: str) -> None:
        with self._changed:
            if not self._changed.wait_for(condition, timeout=timeout):
                raise TimeoutError(
                    f"waited {timeout}s for {expected}; have {len(self._posts)} posts: "
                    f"{[post['text'] for post in self._posts]!r} and {len(self._deliveries)} deliveries"
                )

    def add_fault(
        self,
        *,
        path: str,
        status: int | None = None,
        times: int | None = 1,
        delay_ms: float = 0,
        retry_after: int | None = None,
    ) -> None:
        """Queue a fault; faults on the same path apply one after another, in the order they were added."""
        fault = Fault(path=path, status=status, times=times, delay_ms=delay_ms, retry_after=retry_after)
        with self._lock:
            self._faults.append(fault)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def faults(self) -> list[JsonObject]:
        """Pending faults, `times` being what is left of each."""
        with self._lock:
            return [fault.as_json() for fault in self._faults]

    def request_counts(self) -> dict[str, dict[int, int]]:
        """GroupMe API requests (not the control API) per path, then per answered status."""
        counts: dict[str, dict[int, int]] = {}
        with self._lock:
            for (path, status), count in sorted(self._request_counts.items()):
                counts.setdefault(path, {})[status] = count
        return counts

    # -- request handling -----------------------------------------------------------------------------------

    def _dispatch(self, request: _Request) -> _Reply:
        if request.path.startswith("/_fake/"):
            return self._control(request)
        fault = self._take_fault(request.path)
        if fault is not None and fault.delay_ms:
            self._stopping.wait(fault.delay_ms / 1000)
        if fault is not None and fault.status is not None:
            reply = _envelope_error(fault.status, "injected fault")
            if fault.retry_after is not None:
                reply.headers.append(("Retry-After", str(fault.retry_after)))
        else:
            reply = self._groupme(request)
        with self._lock:
            self._request_counts[(request.path, reply.status)] += 1
        return reply

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            fault = next((fault for fault in self._faults if fault.path == path), None)
            if fault is None or fault.times is None:
                return fault
            fault.times -= 1
            if fault.times == 0:
                self._faults.remove(fault)
            return Fault(**{**fault.as_json(), "times": 1})

    def _groupme(self, request: _Request) -> _Reply:
        route = (request.method, request.path)
        try:
            if route == ("POST", "/v3/bots/post"):
                return self._bot_post(request)
            if route == ("POST", "/v3/bots"):
                return self._bot_create(request)
            if route == ("POST", "/v3/bots/destroy"):
                return self._bot_destroy(request)
            if route == ("GET", "/v3/groups"):
                return self._group_list(request)
            if request.method == "GET" and request.path.startswith("/v3/groups/"):
                return self._group_detail(request, group_id=request.path.removeprefix("/v3/groups/"))
        except SeedError as exc:
            return _envelope_error(400, str(exc))
        return _envelope_error(404, "not found")

    def _token_group_ids(self, request: _Request) -> list[str] | None:
        token = request.headers.get("x-access-token") or request.query_value("token")
        with self._lock:
            return list(self._group_ids_by_token[token]) if token in self._group_ids_by_token else None

    def _bot_post(self, request: _Request) -> _Reply:
        body = request.json_body()
        bot_id, text, attachments = body.get("bot_id"), body.get("text") or "", body.get("attachments") or []
        if not isinstance(bot_id, str) or not bot_id:
            return _envelope_error(400, "bot_id is required")
        if not isinstance(text, str):
            return _envelope_error(400, "text must be a string")
        if not isinstance(attachments, list) or not all(isinstance(item, dict) for item in attachments):
            return _envelope_error(400, "attachments must be a list of objects")
        if isinstance(body.get("picture_url"), str) and body["picture_url"]:
            attachments = [*attachments, {"type": "image", "url": body["picture_url"]}]
        if not text.strip() and not attachments:
            return _envelope_error(400, "text or attachments are required")
        if len(text) > MAX_TEXT_LENGTH:
            return _envelope_error(400, f"text is longer than {MAX_TEXT_LENGTH} characters")
        now = time.time()
        with self._lock:
            if bot_id in self._destroyed_bot_ids:
                return _envelope_error(404, "bot not found")
            self._posts.append({"bot_id": bot_id, "text": text, "attachments": attachments, "received_at": now})
            sender = self._bots.get(bot_id)
            message_id = str(next(self._message_ids))
            group = self._groups.get(sender.group_id) if sender is not None else None
            if group is not None:
                group["messages"] = {
                    "count": group["messages"]["count"] + 1,
                    "last_message_id": message_id,
                    "last_message_created_at": int(now),
                }
                group["updated_at"] = int(now)
            # GroupMe notifies every bot of the group, the sender included; bots must skip sender_type "bot".
            recipients = [
                bot
                for bot in self._bots.values()
                if sender is not None and bot.group_id == sender.group_id and bot.callback_url
            ]
            generation = self._generation
            self._changed.notify_all()
        if self.echo_bot_posts and sender is not None and recipients:
            callback = {
                "attachments": attachments,
                "avatar_url": sender.avatar_url,
                "created_at": int(now),
                "group_id": sender.group_id,
                "id": message_id,
                "name": sender.name,
                "sender_id": sender.bot_id,
                "sender_type": "bot",
                "source_guid": str(uuid.uuid4()),
                "system": False,
                "text": text or None,
                "user_id": sender.bot_id,
            }
            # GroupMe answers the post before notifying bots; a slow or dead callback must not hold the 202.
            threading.Thread(
                target=self._deliver, args=(callback, recipients, generation), name="fake-groupme-echo", daemon=True
            ).start()
        return _Reply(status=202)

    def _deliver(self, callback: JsonObject, recipients: list[_Bot], generation: int) -> None:
        payload = json.dumps(callback).encode()
        for bot in recipients:
            assert bot.callback_url is not None  # recipients are filtered on it
            status: int | None = None
            error: str | None = None
            notification = urllib.request.Request(  # noqa: S310 - callback URLs are registered by the caller
                bot.callback_url,
                data=payload,
                method="POST",
                headers={"Content-Type": "application/json", "User-Agent": CALLBACK_USER_AGENT},
            )
            try:
                with urllib.request.urlopen(notification, timeout=CALLBACK_TIMEOUT_SECONDS) as answer:  # noqa: S310
                    status = answer.status
            except urllib.error.HTTPError as exc:
                status = exc.code
            except (OSError, ValueError) as exc:
                error = f"{type(exc).__name__}: {exc}"
            with self._lock:
                if generation != self._generation:
                    return
                self._deliveries.append(
                    {
                        "callback_url": bot.callback_url,
                        "bot_id": bot.bot_id,
                        "message_id": callback["id"],
                        "status": status,
                        "error": error,
                    }
                )
                self._changed.notify_all()

    def _bot_create(self, request: _Request) -> _Reply:
        group_ids = self._token_group_ids(request)
        if group_ids is None:
            return _envelope_error(401, "unauthorized")
        fields = request.json_body().get("bot")
        if not isinstance(fields, dict):
            return _envelope_error(400, "bot is required")
        name, group_id = fields.get("name"), fields.get("group_id")
        errors = [f"{key} is required" for key, value in (("name", name), ("group_id", group_id)) if not value]
        if errors:
            return _envelope_error(400, *errors)
        if str(group_id) not in group_ids:
            return _envelope_error(404, "group not found")
        bot = _Bot(
            bot_id=uuid.uuid4().hex[:26],
            group_id=str(group_id),
            name=str(name),
            avatar_url=fields.get("avatar_url"),
            callback_url=fields.get("callback_url"),
            dm_notification=bool(fields.get("dm_notification", False)),
            owner_token=request.headers.get("x-access-token") or request.query_value("token"),
        )
        with self._lock:
            self._bots[bot.bot_id] = bot
        return _envelope(201, {"bot": bot.as_json()})

    def _bot_destroy(self, request: _Request) -> _Reply:
        group_ids = self._token_group_ids(request)
        if group_ids is None:
            return _envelope_error(401, "unauthorized")
        bot_id = request.json_body().get("bot_id") or request.query_value("bot_id")
        token = request.headers.get("x-access-token") or request.query_value("token")
        with self._lock:
            bot = self._bots.get(str(bot_id))
            # Another user's bot is "not found", like a missing one.
            if bot is None or bot.owner_token not in (None, token):
                return _envelope_error(404, "bot not found")
            self.destroy_bot(bot.bot_id)
        return _envelope(200, None)

    def _group_list(self, request: _Request) -> _Reply:
        group_ids = self._token_group_ids(request)
        if group_ids is None:
            return _envelope_error(401, "unauthorized")
        try:
            page = int(request.query_value("page") or 1)
            per_page = int(request.query_value("per_page") or DEFAULT_PER_PAGE)
        except ValueError:
            return _envelope_error(400, "page and per_page must be integers")
        if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
            return _envelope_error(400, f"page must be at least 1 and per_page between 1 and {MAX_PER_PAGE}")
        start = (page - 1) * per_page
        omit_members = "memberships" in (request.query_value("omit") or "").split(",")
        with self._lock:
            groups = [self._group_json(group_id, omit_members=omit_members) for group_id in group_ids]
        return _envelope(200, groups[start : start + per_page])

    def _group_detail(self, request: _Request, *, group_id: str) -> _Reply:
        group_ids = self._token_group_ids(request)
        if group_ids is None:
            return _envelope_error(401, "unauthorized")
        if group_id not in group_ids:
            return _envelope_error(404, "group not found")
        with self._lock:
            return _envelope(200, self._group_json(group_id, omit_members=False))

    def _group_json(self, group_id: str, *, omit_members: bool) -> JsonObject:
        group = copy.deepcopy(self._groups[group_id])
        if omit_members:
            group["members"] = []
        return group

    # -- control API ----------------------------------------------------------------------------------------

    def _control(self, request: _Request) -> _Reply:
        try:
            return self._control_route(request)
        except (SeedError, TypeError) as exc:
            return _json_reply(400, {"error": str(exc)})

    def _control_route(self, request: _Request) -> _Reply:
        route = (request.method, request.path.removeprefix("/_fake"))
        if route == ("GET", "/posts"):
            return _json_reply(200, self.posts)
        if route == ("DELETE", "/posts"):
            self.clear_posts()
            return _json_reply(200, {"cleared": "posts"})
        if route == ("GET", "/requests"):
            counts = {
                path: {str(status): count for status, count in by_status.items()}
                for path, by_status in self.request_counts().items()
            }
            return _json_reply(200, counts)
        if route == ("GET", "/faults"):
            return _json_reply(200, self.faults)
        if route == ("POST", "/faults"):
            body = request.json_body()
            fault = Fault(
                path=str(body.get("path", "")),
                status=body.get("status"),
                times=body.get("times", 1),  # absent means once; null means until cleared
                delay_ms=body.get("delay_ms") or 0,
                retry_after=body.get("retry_after"),
            )
            with self._lock:
                self._faults.append(fault)
            return _json_reply(201, fault.as_json())
        if route == ("DELETE", "/faults"):
            self.clear_faults()
            return _json_reply(200, {"cleared": "faults"})
        if route == ("POST", "/accounts"):
            body = request.json_body()
            groups = body.get("groups")
            if not isinstance(groups, list):
                raise SeedError("an account needs a list of groups")
            self.add_account(token=body.get("token"), groups=groups)  # type: ignore[arg-type]  # checked inside
            return _json_reply(201, {"token": body["token"], "group_ids": [str(g.get("id")) for g in groups]})
        if route == ("GET", "/bots"):
            return _json_reply(200, self.bots)
        if route == ("POST", "/bots"):
            body = request.json_body()
            bot_id = _required_text(body, "bot_id", what="a bot")
            self.register_bot(
                bot_id=bot_id,
                group_id=_required_text(body, "group_id", what="a bot"),
                name=_required_text(body, "name", what="a bot"),
                callback_url=body.get("callback_url"),
                avatar_url=body.get("avatar_url"),
            )
            return _json_reply(201, self._bots[bot_id].as_json())
        if route == ("GET", "/deliveries"):
            return _json_reply(200, self.deliveries)
        if route == ("POST", "/reset"):
            self.reset()
            return _json_reply(200, {"reset": True})
        return _json_reply(404, {"error": f"no control route {request.method} {request.path}"})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's backlog of 5 resets connections when a benchmark or a worker pool opens many at once.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], fake: FakeGroupMe) -> None:
        self.fake = fake
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _RequestHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_open_connections(self) -> None:
        """Keep-alive connections would otherwise hold their handler threads open after stop()."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                connection.shutdown(socket.SHUT_RDWR)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        request = _Request(
            method=self.command,
            path=url.path.rstrip("/") or "/",
            query=urllib.parse.parse_qs(url.query),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=self._read_body(),
        )
        try:
            reply = self.server.fake._dispatch(request)
        except Exception as exc:  # a bug in the fake must answer, not leave the client hanging
            reply = _envelope_error(500, f"fake GroupMe failed: {type(exc).__name__}: {exc}")
        self.send_response(reply.status)
        for name, value in reply.headers:
            self.send_header(name, value)
        if reply.body:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply.body)))
        try:
            self.end_headers()
            self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped waiting (a read timeout under test): GroupMe acted on the request all the same

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests and benchmarks would drown in one line per request."""


if __name__ == "__main__":
    with FakeGroupMe(port=8001) as standalone:
        print(f"GROUPME_API_URL={standalone.base_url}  (token {DEFAULT_TOKEN!r}; Ctrl-C to stop)")
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
