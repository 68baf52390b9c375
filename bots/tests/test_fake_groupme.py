"""The fake GroupMe server itself: what tests, the demo and benchmarks rely on must behave like GroupMe's docs."""

import http.client
import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from bots.fake_groupme import DEFAULT_TOKEN, FakeGroupMe

TOKEN_HEADER = {"X-Access-Token": DEFAULT_TOKEN}


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


def call(
    method: str, url: str, *, body: object = None, headers: dict[str, str] | None = None, timeout: float = 10
) -> Answer:
    raw_body = None if body is None else json.dumps(body).encode()
    return call_raw(method, url, raw_body=raw_body, headers=headers, timeout=timeout)


def call_raw(
    method: str, url: str, *, raw_body: bytes | None, headers: dict[str, str] | None = None, timeout: float = 10
) -> Answer:
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout)
    target = f"{parts.path}?{parts.query}" if parts.query else parts.path
    all_headers = {**({"Content-Type": "application/json"} if raw_body is not None else {}), **(headers or {})}
    try:
        connection.request(method, target, body=raw_body, headers=all_headers)
        response = connection.getresponse()
        return Answer(response.status, dict(response.getheaders()), response.read())
    finally:
        connection.close()


def root(fake: FakeGroupMe) -> str:
    return fake.base_url.removesuffix("/v3")


def bot_post(fake: FakeGroupMe, *, bot_id: str = "bot-1", text: str = "hello", **extra: object) -> Answer:
    return call("POST", f"{fake.base_url}/bots/post", body={"bot_id": bot_id, "text": text, **extra})


def create_bot(fake: FakeGroupMe, **fields: object) -> Answer:
    bot = {"name": "Helper", "group_id": "1001", "dm_notification": False, **fields}
    return call("POST", f"{fake.base_url}/bots", body={"bot": bot}, headers=TOKEN_HEADER)


def poll(condition, *, timeout: float = 10, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


@pytest.fixture
def fake() -> Iterator[FakeGroupMe]:
    with FakeGroupMe() as server:
        yield server


class CallbackReceiver:
    """A bot's callback URL: records each delivery's headers and JSON body."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], Any]] = []
        lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with lock:
                    receiver.received.append((dict(self.headers), payload))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/groupme/callback"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)


@pytest.fixture
def receiver() -> Iterator[CallbackReceiver]:
    callback_receiver = CallbackReceiver()
    callback_receiver.thread.start()
    yield callback_receiver
    callback_receiver.server.shutdown()
    callback_receiver.server.server_close()


# -- bot posts -----------------------------------------------------------------------------------------------


def test_bot_post_is_accepted_with_202_and_an_empty_body_and_recorded_in_order(fake):
    first = bot_post(fake, text="first")
    second = bot_post(fake, bot_id="bot-2", text="second", attachments=[{"type": "image", "url": "https://i.example"}])

    assert (first.status, first.body, first.headers["Content-Length"]) == (202, b"", "0")
    assert second.status == 202
    posts = fake.wait_for_posts(2)
    assert [(post["bot_id"], post["text"], post["attachments"]) for post in posts] == [
        ("bot-1", "first", []),
        ("bot-2", "second", [{"type": "image", "url": "https://i.example"}]),
    ]
    assert posts[0]["received_at"] <= posts[1]["received_at"]


def test_picture_url_is_recorded_as_an_image_attachment_and_may_stand_without_text(fake):
    answer = call("POST", f"{fake.base_url}/bots/post", body={"bot_id": "bot-1", "picture_url": "https://i.example/1"})

    assert answer.status == 202
    assert fake.posts == [
        {
            "bot_id": "bot-1",
            "text": "",
            "attachments": [{"type": "image", "url": "https://i.example/1"}],
            "received_at": fake.posts[0]["received_at"],
        }
    ]


def test_text_of_1000_characters_is_accepted_but_1001_is_rejected(fake):
    assert bot_post(fake, text="x" * 1000).status == 202
    too_long = bot_post(fake, text="y" * 1001)

    assert too_long.status == 400
    assert [post["text"] for post in fake.posts] == ["x" * 1000]


@pytest.mark.parametrize(
    "body",
    [
        {"text": "no bot id"},
        {"bot_id": "", "text": "empty bot id"},
        {"bot_id": "bot-1"},
        {"bot_id": "bot-1", "text": "", "attachments": []},
        {"bot_id": "bot-1", "text": "   "},
        {"bot_id": "bot-1", "text": "x", "attachments": "not a list"},
    ],
)
def test_bot_post_without_a_bot_id_or_any_content_is_rejected(fake, body):
    answer = call("POST", f"{fake.base_url}/bots/post", body=body)

    assert answer.status == 400
    assert fake.posts == []


def test_invalid_json_is_a_400_not_a_crash(fake):
    answer = call_raw("POST", f"{fake.base_url}/bots/post", raw_body=b"{not json")

    assert answer.status == 400
    assert answer.json["meta"]["code"] == 400


def test_destroyed_bot_posts_get_404_while_unknown_bots_are_accepted(fake):
    bot_id = create_bot(fake).json["response"]["bot"]["bot_id"]
    destroyed = call("POST", f"{fake.base_url}/bots/destroy", body={"bot_id": bot_id}, headers=TOKEN_HEADER)

    assert destroyed.status == 200
    assert destroyed.json == {"response": None, "meta": {"code": 200}}
    assert bot_post(fake, bot_id=bot_id).status == 404
    assert bot_post(fake, bot_id="registered-manually-elsewhere").status == 202
    assert [post["bot_id"] for post in fake.posts] == ["registered-manually-elsewhere"]


def test_destroying_an_unknown_bot_is_404(fake):
    answer = call("POST", f"{fake.base_url}/bots/destroy", body={"bot_id": "nope"}, headers=TOKEN_HEADER)

    assert answer.status == 404
    assert answer.json["meta"]["code"] == 404


def test_destroy_bot_from_python_makes_an_unregistered_bot_id_404(fake):
    fake.destroy_bot("deleted-at-groupme")

    assert bot_post(fake, bot_id="deleted-at-groupme").status == 404


def test_concurrent_posts_are_all_recorded(fake):
    texts = [f"message {number}" for number in range(30)]
    threads = [threading.Thread(target=bot_post, args=(fake,), kwargs={"text": text}) for text in texts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(post["text"] for post in fake.wait_for_posts(30)) == sorted(texts)


def test_keep_alive_connection_serves_several_requests(fake):
    connection = http.client.HTTPConnection("127.0.0.1", fake.port, timeout=10)
    try:
        for number in range(3):
            payload = json.dumps({"bot_id": "bot-1", "text": f"kept alive {number}"})
            connection.request("POST", "/v3/bots/post", body=payload, headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            assert (response.status, response.read()) == (202, b"")
            connection.request("GET", "/v3/groups", headers=TOKEN_HEADER)
            groups = connection.getresponse()
            assert len(json.loads(groups.read())["response"]) == 2
            assert groups.getheader("Connection") != "close"
    finally:
        connection.close()

    assert len(fake.posts) == 3


def test_wait_for_posts_gives_up_at_its_deadline(fake):
    bot_post(fake, text="only one")

    with pytest.raises(TimeoutError, match="only one"):
        fake.wait_for_posts(2, timeout=0.2)


# -- faults --------------------------------------------------------------------------------------------------


def test_fault_answers_its_status_the_given_number_of_times_then_recovers(fake):
    fake.add_fault(path="/v3/bots/post", status=503, times=2, retry_after=7)

    answers = [bot_post(fake, text=f"try {number}") for number in range(3)]

    assert [answer.status for answer in answers] == [503, 503, 202]
    assert answers[0].headers["Retry-After"] == "7"
    assert [post["text"] for post in fake.posts] == ["try 2"]
    assert fake.faults == []
    assert fake.request_counts() == {"/v3/bots/post": {202: 1, 503: 2}}


def test_fault_with_only_a_delay_is_slow_but_succeeds(fake):
    fake.add_fault(path="/v3/bots/post", delay_ms=1000)
    slow_post = {"bot_id": "bot-1", "text": "slow"}

    # The client gives up long before the fake answers, yet the fake still accepts the post afterwards.
    with pytest.raises(TimeoutError):
        call("POST", f"{fake.base_url}/bots/post", body=slow_post, timeout=0.1)
    assert bot_post(fake, text="fast").status == 202

    assert sorted(post["text"] for post in fake.wait_for_posts(2)) == ["fast", "slow"]


def test_fault_without_times_lasts_until_cleared_and_only_on_its_path(fake):
    fake.add_fault(path="/v3/bots/post", status=500, times=None)

    assert [bot_post(fake).status for _ in range(4)] == [500, 500, 500, 500]
    assert call("GET", f"{fake.base_url}/groups", headers=TOKEN_HEADER).status == 200
    cleared = call("DELETE", f"{root(fake)}/_fake/faults")

    assert cleared.status == 200
    assert bot_post(fake).status == 202


def test_faults_on_one_path_apply_in_the_order_they_were_added(fake):
    fake.add_fault(path="/v3/bots/post", status=503)
    fake.add_fault(path="/v3/bots/post", status=429, retry_after=2)

    answers = [bot_post(fake) for _ in range(3)]

    assert [answer.status for answer in answers] == [503, 429, 202]
    assert "Retry-After" not in answers[0].headers
    assert answers[1].headers["Retry-After"] == "2"


def test_fault_needs_a_status_or_a_delay(fake):
    answer = call("POST", f"{root(fake)}/_fake/faults", body={"path": "/v3/bots/post", "status": None})

    assert answer.status == 400
    assert fake.faults == []


# -- bots and groups -----------------------------------------------------------------------------------------


def test_bot_creation_answers_groupme_envelope(fake):
    answer = create_bot(
        fake, name="Reminder", avatar_url="https://a.example/bot.png", callback_url="https://cb.example"
    )

    assert answer.status == 201
    bot = answer.json["response"]["bot"]
    assert answer.json["meta"] == {"code": 201}
    assert len(bot["bot_id"]) == 26
    assert bot == {
        "bot_id": bot["bot_id"],
        "group_id": "1001",
        "name": "Reminder",
        "avatar_url": "https://a.example/bot.png",
        "callback_url": "https://cb.example",
        "dm_notification": False,
    }
    assert create_bot(fake).json["response"]["bot"]["bot_id"] != bot["bot_id"]


@pytest.mark.parametrize("headers", [{}, {"X-Access-Token": "someone-else"}])
def test_bot_creation_without_a_valid_token_is_401(fake, headers):
    answer = call("POST", f"{fake.base_url}/bots", body={"bot": {"name": "x", "group_id": "1001"}}, headers=headers)

    assert answer.status == 401
    assert answer.json == {"response": None, "meta": {"code": 401, "errors": ["unauthorized"]}}
    assert fake.bots == []


def test_token_is_also_accepted_as_a_query_parameter(fake):
    bot = {"name": "Q", "group_id": "1002"}
    answer = call("POST", f"{fake.base_url}/bots?token={DEFAULT_TOKEN}", body={"bot": bot})

    assert answer.status == 201
    assert answer.json["response"]["bot"]["group_id"] == "1002"


def test_bot_creation_checks_name_and_group(fake):
    missing = call("POST", f"{fake.base_url}/bots", body={"bot": {}}, headers=TOKEN_HEADER)
    foreign = create_bot(fake, group_id="9999")

    assert missing.status == 400
    assert missing.json["meta"] == {"code": 400, "errors": ["name is required", "group_id is required"]}
    assert foreign.status == 404
    assert foreign.json["meta"]["code"] == 404
    assert fake.bots == []


def test_groups_list_has_groupme_shape_with_members_and_pages(fake):
    answer = call("GET", f"{fake.base_url}/groups", headers=TOKEN_HEADER)
    second_page = call("GET", f"{fake.base_url}/groups?page=2&per_page=1", headers=TOKEN_HEADER)

    assert answer.status == 200
    groups = answer.json["response"]
    assert [group["name"] for group in groups] == ["Anglers", "Bakers"]
    anglers = groups[0]
    assert anglers["id"] == anglers["group_id"] == "1001"
    assert anglers["type"] == "private"
    assert {"description", "image_url", "creator_user_id", "created_at", "updated_at"} <= anglers.keys()
    assert anglers["messages"] == {"count": 0, "last_message_id": None, "last_message_created_at": None}
    assert [member["nickname"] for member in anglers["members"]] == ["Alice", "Bob", "Charlie"]
    assert anglers["members"][0] == {
        "user_id": "2001",
        "nickname": "Alice",
        "image_url": None,
        "id": anglers["members"][0]["id"],
        "muted": False,
        "autokicked": False,
        "roles": ["user"],
    }
    assert [group["name"] for group in second_page.json["response"]] == ["Bakers"]
    assert call("GET", f"{fake.base_url}/groups").status == 401


def test_group_detail_has_members_and_other_groups_are_404(fake):
    fake.add_account(token="bob-token", groups=[{"id": "3001", "name": "Bob's own", "members": [{"user_id": "2002"}]}])

    detail = call("GET", f"{fake.base_url}/groups/1002", headers=TOKEN_HEADER)
    someone_elses = call("GET", f"{fake.base_url}/groups/3001", headers=TOKEN_HEADER)
    missing = call("GET", f"{fake.base_url}/groups/424242", headers=TOKEN_HEADER)

    assert detail.status == 200
    assert detail.json["meta"] == {"code": 200}
    assert detail.json["response"]["name"] == "Bakers"
    assert [member["user_id"] for member in detail.json["response"]["members"]] == ["2001", "2004", "2005"]
    assert (someone_elses.status, missing.status) == (404, 404)
    assert missing.json["response"] is None


def test_a_post_of_a_known_bot_counts_as_a_message_of_its_group(fake):
    bot_id = create_bot(fake, group_id="1002").json["response"]["bot"]["bot_id"]
    bot_post(fake, bot_id=bot_id)

    messages = call("GET", f"{fake.base_url}/groups/1002", headers=TOKEN_HEADER).json["response"]["messages"]

    assert messages["count"] == 1
    assert messages["last_message_id"]
    assert isinstance(messages["last_message_created_at"], int)


# -- echo of bot posts to callback URLs ----------------------------------------------------------------------


def test_echo_delivers_a_bot_post_to_every_bot_of_the_group_as_groupme_does(receiver):
    with FakeGroupMe(echo_bot_posts=True) as fake:
        sender = create_bot(fake, name="Sender", callback_url=receiver.url).json["response"]["bot"]
        fake.register_bot(bot_id="neighbour", group_id="1001", name="Neighbour", callback_url=receiver.url + "?n=1")
        fake.register_bot(bot_id="elsewhere", group_id="1002", name="Elsewhere", callback_url=receiver.url + "?e=1")

        assert bot_post(fake, bot_id=sender["bot_id"], text="echo me").status == 202
        deliveries = fake.wait_for_deliveries(2)

    assert {delivery["bot_id"] for delivery in deliveries} == {"neighbour", sender["bot_id"]}
    assert all(delivery["status"] == 200 for delivery in deliveries)
    assert len(receiver.received) == 2
    for headers, callback in receiver.received:
        assert headers["User-Agent"] == "GroupMeBotNotifier/1.0"
        assert headers["Content-Type"] == "application/json"
        assert callback == {
            "attachments": [],
            "avatar_url": None,
            "created_at": callback["created_at"],
            "group_id": "1001",
            "id": callback["id"],
            "name": "Sender",
            "sender_id": sender["bot_id"],
            "sender_type": "bot",
            "source_guid": callback["source_guid"],
            "system": False,
            "text": "echo me",
            "user_id": sender["bot_id"],
        }
        assert isinstance(callback["created_at"], int)
        assert isinstance(callback["id"], str)
        assert len(callback["source_guid"]) == 36


def test_echo_is_off_by_default_and_can_be_switched_on(fake, receiver):
    fake.register_bot(bot_id="quiet", group_id="1001", name="Quiet", callback_url=receiver.url)
    bot_post(fake, bot_id="quiet", text="not echoed")
    fake.echo_bot_posts = True
    bot_post(fake, bot_id="quiet", text="echoed")

    poll(lambda: receiver.received, message="the echoed callback")
    assert [callback["text"] for _, callback in receiver.received] == ["echoed"]
    assert len(fake.wait_for_deliveries(1)) == 1


def test_a_slow_callback_does_not_hold_the_202():
    release = threading.Event()

    class Stalling(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            release.wait(10)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    stalling = ThreadingHTTPServer(("127.0.0.1", 0), Stalling)
    threading.Thread(target=stalling.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        with FakeGroupMe(echo_bot_posts=True) as fake:
            callback_url = f"http://127.0.0.1:{stalling.server_address[1]}/"
            fake.register_bot(bot_id="b", group_id="1001", name="B", callback_url=callback_url)
            # The post answers while the callback is still stalled: 3s of client timeout against 10s of stall.
            answer = call("POST", f"{fake.base_url}/bots/post", body={"bot_id": "b", "text": "hi"}, timeout=3)
            assert answer.status == 202
            assert fake.deliveries == []
            release.set()
            assert fake.wait_for_deliveries(1)[0]["status"] == 200
    finally:
        release.set()
        stalling.shutdown()
        stalling.server_close()


# -- control API over HTTP -----------------------------------------------------------------------------------


def test_control_api_over_http(fake, receiver):
    control = f"{root(fake)}/_fake"
    account = call("POST", f"{control}/accounts", body={"token": "t2", "groups": [{"id": 77, "name": "Seventy"}]})
    manual_bot = {"bot_id": "manual", "group_id": "77", "name": "M", "callback_url": receiver.url}
    registered = call("POST", f"{control}/bots", body=manual_bot)
    fault = call("POST", f"{control}/faults", body={"path": "/v3/groups", "status": 502, "times": 1})
    failed = call("GET", f"{fake.base_url}/groups", headers={"X-Access-Token": "t2"})
    groups = call("GET", f"{fake.base_url}/groups", headers={"X-Access-Token": "t2"})
    bot_post(fake, bot_id="manual", text="over http")

    assert (account.status, registered.status, fault.status, failed.status) == (201, 201, 201, 502)
    assert [group["id"] for group in groups.json["response"]] == ["77"]
    assert [bot["bot_id"] for bot in call("GET", f"{control}/bots").json] == ["manual"]
    posts = call("GET", f"{control}/posts").json
    assert [(post["bot_id"], post["text"]) for post in posts] == [("manual", "over http")]
    assert call("GET", f"{control}/requests").json == {
        "/v3/bots/post": {"202": 1},
        "/v3/groups": {"200": 1, "502": 1},
    }
    assert call("DELETE", f"{control}/posts").status == 200
    assert call("GET", f"{control}/posts").json == []

    call("POST", f"{control}/faults", body={"path": "/v3/bots/post", "status": 500, "times": None})
    assert call("GET", f"{control}/faults").json == [
        {"path": "/v3/bots/post", "status": 500, "times": None, "delay_ms": 0, "retry_after": None}
    ]
    assert call("POST", f"{control}/reset").status == 200
    assert call("GET", f"{control}/requests").json == {}
    assert call("GET", f"{control}/faults").json == []
    assert call("GET", f"{control}/bots").json == []
    assert call("GET", f"{fake.base_url}/groups", headers={"X-Access-Token": "t2"}).status == 401
    assert bot_post(fake).status == 202


def test_malformed_control_requests_are_400_and_unknown_routes_404(fake):
    control = f"{root(fake)}/_fake"

    assert call("POST", f"{control}/accounts", body={"token": "t3", "groups": [{"name": "no id"}]}).status == 400
    assert call("POST", f"{control}/accounts", body={"groups": []}).status == 400
    assert call("POST", f"{control}/bots", body={"bot_id": "x"}).status == 400
    assert call("GET", f"{control}/nothing-here").status == 404
    assert call("GET", f"{fake.base_url}/groups", headers={"X-Access-Token": "t3"}).status == 401


def test_accounts_given_to_the_constructor_replace_the_defaults_and_survive_reset():
    accounts = {"only": [{"id": "5", "name": "Five", "members": [{"user_id": "9", "nickname": "Nine"}]}]}
    with FakeGroupMe(accounts=accounts) as fake:
        fake.add_account(token="extra", groups=[])
        fake.reset()

        mine = call("GET", f"{fake.base_url}/groups", headers={"X-Access-Token": "only"})
        assert [member["nickname"] for member in mine.json["response"][0]["members"]] == ["Nine"]
        assert call("GET", f"{fake.base_url}/groups", headers=TOKEN_HEADER).status == 401
        assert call("GET", f"{fake.base_url}/groups", headers={"X-Access-Token": "extra"}).status == 401


def test_stop_closes_the_port_and_a_stopped_fake_has_no_url():
    fake = FakeGroupMe().start()
    base_url = fake.base_url
    fake.stop()

    with pytest.raises(ConnectionRefusedError):
        call("GET", f"{base_url}/groups", headers=TOKEN_HEADER, timeout=2)
    with pytest.raises(RuntimeError):
        _ = fake.base_url
