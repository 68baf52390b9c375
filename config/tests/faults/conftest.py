"""The fault suite's servers: whatever a test breaks, it starts itself, and it is stopped when the test ends.

Private `redis-server` and PostgreSQL instances on free loopback ports, a TCP proxy that can cut the way to the
shared RabbitMQ, gunicorn and Celery workers as real processes on the test database. The shared PostgreSQL, Redis
and RabbitMQ are never stopped, flushed or reconfigured. Each test runs under a hard timeout (SIGALRM), every
process is stopped by its fixture, and whatever is still running when pytest exits is killed.
"""

import atexit
import contextlib
import functools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from celery import Celery
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[3]
VENV_BIN = Path(sys.executable).parent
DEFAULT_HARD_TIMEOUT_SECONDS = 90
RABBITMQ = ("127.0.0.1", 5672)

# What the tests measured, printed together at the end of the run (and as each test goes, with `-s`).
MEASUREMENTS: list[str] = []
_running: list[subprocess.Popen[bytes]] = []


# --- Processes --------------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _spawn(command: list[str], *, env: dict[str, str] | None = None, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as output:
        # A session of its own: the process and its children (gunicorn's and Celery's workers) are one group.
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    _running.append(process)
    return process


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)


def process_kill(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL to the process and its children, as the OOM killer or a lost machine would do it."""
    _signal_group(process, signal.SIGKILL)
    process.wait(timeout=10)
    if process in _running:
        _running.remove(process)


def process_stop(process: subprocess.Popen[bytes], *, grace: float = 10.0) -> None:
    if process.poll() is None:
        _signal_group(process, signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            _signal_group(process, signal.SIGKILL)
            process.wait(timeout=10)
    else:
        _signal_group(process, signal.SIGKILL)  # children of a leader that already exited
    if process in _running:
        _running.remove(process)


@atexit.register
def _kill_leftovers() -> None:
    for process in list(_running):
        _signal_group(process, signal.SIGKILL)


def log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def wait_until(
    condition: Callable[[], Any], *, timeout: float, message: str, interval: float = 0.05, log: Path | None = None
) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(interval)
    tail = f"; the end of its log:\n{log_tail(log)}" if log else ""
    raise AssertionError(f"timed out after {timeout}s waiting for {message}{tail}")


# --- Private Redis ----------------------------------------------------------------------------------------------------


class PrivateRedis:
    """A redis-server of this test's own, keeping nothing on disk, that can be killed and started again."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.log = directory / "redis.log"
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        self.process = _spawn(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--daemonize", "no", "--dir", str(self.directory)],
            log=self.log,
        )  # fmt: skip
        wait_until(self.answers, timeout=15, message=f"redis-server on port {self.port}", log=self.log)

    def answers(self) -> bool:
        import redis

        try:
            with redis.Redis(port=self.port, socket_timeout=0.5, socket_connect_timeout=0.5) as client:
                return bool(client.ping())
        except redis.RedisError:
            return False

    def kill(self) -> None:
        if self.process is not None:
            process_kill(self.process)
            self.process = None

    def close(self) -> None:
        if self.process is not None:
            process_stop(self.process, grace=5)
            self.process = None

    def redeliver_unacked(self, db: int = 0) -> None:
        """What kombu does once a delivered message's visibility timeout (an hour here) has passed without an ack:
        put it back on its queue. Done now, with a timeout of zero, instead of an hour later."""
        from kombu import Connection

        with Connection(self.url(db), transport_options={"visibility_timeout": 0}) as broker:
            channel: Any = broker.default_channel  # kombu's Redis channel, which the stubs do not describe
            channel.qos.restore_visible(num=1000)

    def queue_idle(self, queue: str, db: int = 0) -> bool:
        """No task waiting in `queue` and none delivered but unacknowledged (kombu's `unacked` hash)."""
        import redis

        with redis.Redis(port=self.port, db=db, socket_timeout=2) as client:
            lists = [key for key in client.scan_iter(match=f"{queue}*") if client.type(key) == b"list"]
            waiting = sum(int(client.llen(key)) for key in lists)
            return waiting == 0 and int(client.hlen("unacked")) == 0


# --- Private PostgreSQL -----------------------------------------------------------------------------------------------


def postgresql_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda path: int(path.parts[-3]))
    return found[-1].parent if found else None


class PrivatePostgres:
    """A PostgreSQL cluster in a temporary directory (run as the postgres OS user when we are root)."""

    def __init__(self, directory: Path, bin_dir: Path) -> None:
        self.directory = directory
        self.bin = bin_dir
        self.data = directory / "data"
        self.log = directory / "postgresql.log"
        self.port = free_port()

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def _as_owner(self, command: list[str]) -> list[str]:
        # initdb and postgres refuse to run as root.
        return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command

    def _run(self, command: list[str], *, timeout: float = 60) -> None:
        subprocess.run(self._as_owner(command), cwd=self.directory, check=True, capture_output=True, timeout=timeout)

    def initdb(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.directory, user="postgres")
        # --no-sync only skips syncing initdb's own files; the server itself runs with fsync on.
        self._run([str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                   "--no-sync"])  # fmt: skip

    def start(self) -> None:
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.directory} "
            "-c shared_buffers=32MB -c max_connections=40 -c fsync=on"
        )
        self._run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t",
                   "30", "start"])  # fmt: skip

    def stop(self, *, mode: str) -> None:
        """mode: 'fast' (a clean restart: sessions are terminated) or 'immediate' (a crash: no checkpoint)."""
        self._run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop"])

    def close(self) -> None:
        pid_file = self.data / "postmaster.pid"
        if pid_file.exists():
            try:
                self.stop(mode="immediate")
            except (subprocess.SubprocessError, OSError):
                with contextlib.suppress(ValueError, OSError):
                    os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)

    def psql(self, database: str, sql: str) -> str:
        result = subprocess.run(
            [str(self.bin / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", database,
             "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql],
            check=True, capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        return result.stdout.strip()

    def copy_database(self, *, source: dict[str, Any], name: str) -> None:
        """A copy of the (migrated, seeded) test database: what `migrate` would build, in a tenth of the time."""
        self.psql("postgres", f'CREATE DATABASE "{name}"')
        dump = subprocess.Popen(
            [str(self.bin / "pg_dump"), "--no-owner", "--no-privileges", "-h", source["HOST"] or "127.0.0.1",
             "-p", str(source["PORT"] or 5432), "-U", source["USER"], source["NAME"]],
            stdout=subprocess.PIPE, env={**os.environ, "PGPASSWORD": source.get("PASSWORD") or ""},
        )  # fmt: skip
        subprocess.run(
            [str(self.bin / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", name, "-q",
             "-v", "ON_ERROR_STOP=1"],
            stdin=dump.stdout, check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        assert dump.wait(timeout=30) == 0


# --- A TCP proxy to cut ---------------------------------------------------------------------------------------------


class TcpProxy:
    """Forwards a free loopback port to `upstream`; `cut()` refuses new connections and drops the open ones."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()

    def start(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, args=(self._listener,), name="fault-proxy", daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                self._sockets.update((client, server))
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        for end in (source, target):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
            listener.close()
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for end in sockets:
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()

    def restore(self) -> None:
        self.start()


# --- Botyard's processes ----------------------------------------------------------------------------------------------


def database_url(settings_dict: dict[str, Any]) -> str:
    user = urllib.parse.quote(settings_dict["USER"] or "postgres")
    password = settings_dict.get("PASSWORD") or ""
    credentials = f"{user}:{urllib.parse.quote(password)}" if password else user
    host, port = settings_dict["HOST"] or "127.0.0.1", settings_dict["PORT"] or 5432
    return f"postgres://{credentials}@{host}:{port}/{settings_dict['NAME']}"


def botyard_environment(
    *, database: str, redis: str, queue: str, groupme: str, broker: str | None = None, **extra: str
) -> dict[str, str]:
    """Production settings (config.settings), with this test process's secrets so both read the same rows."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in ("CELERY_BROKER_URL", "DATABASE_CONN_MAX_AGE", "EMAIL_URL", "TRUST_X_FORWARDED_PROTO")
    }
    environment.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DEBUG="false",
        SECRET_KEY=settings.SECRET_KEY,
        FIELD_ENCRYPTION_KEY=",".join(settings.FIELD_ENCRYPTION_KEYS),
        SECURE_SSL_REDIRECT="false",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        PUBLIC_BASE_URL="http://127.0.0.1",
        DATABASE_URL=database,
        REDIS_URL=redis,
        CELERY_TASK_DEFAULT_QUEUE=queue,
        GROUPME_API_URL=groupme,
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
        BOTS_REPLY_RETRY_BASE_SECONDS="0.05",
        BOTS_REPLY_RETRY_MAX_SECONDS="0.2",
        # The scenarios send bursts of commands on purpose; the loop breaker would rightly silence the bot.
        BOTS_LOOP_MAX_REPLIES_PER_MINUTE="1000000",
    )
    if broker:
        environment["CELERY_BROKER_URL"] = broker
    environment.update(extra)
    return environment


PRODUCTION_GUNICORN_CONFIG = ROOT / "config" / "gunicorn.conf.py"


class Gunicorn:
    """gunicorn as production runs it (`-c config/gunicorn.conf.py config.wsgi`), 2 workers, on a free loopback port."""

    def __init__(self, *, environment: dict[str, str], directory: Path, workers: int = 2) -> None:
        self.environment = environment
        self.port = free_port()
        self.log = directory / f"gunicorn-{self.port}.log"
        self.workers = workers
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        # Worker class and threads come from the production file; flags on the command line override it.
        config = ["-c", str(PRODUCTION_GUNICORN_CONFIG)] if PRODUCTION_GUNICORN_CONFIG.exists() else []
        self.process = _spawn(
            [str(VENV_BIN / "gunicorn"), *config, "config.wsgi", "--bind", f"127.0.0.1:{self.port}", "--workers",
             str(self.workers), "--graceful-timeout", "5", "--log-level", "warning"],
            env=self.environment, log=self.log,
        )  # fmt: skip
        wait_until(self._healthy, timeout=60, message="gunicorn to answer /health/", interval=0.2, log=self.log)

    def _healthy(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"gunicorn exited with {self.process.returncode}: {log_tail(self.log)}")
        try:
            return requests.get(f"{self.base_url}/health/", timeout=5).status_code == 200
        except requests.RequestException:
            return False

    def worker_pids(self) -> set[int]:
        """gunicorn's worker processes: the same pids before and after a fault mean nothing was restarted."""
        assert self.process is not None
        children = set()
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, IndexError, ValueError):
                # The command name may hold spaces; the parent pid is the second field after its closing paren.
                if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == self.process.pid:
                    children.add(int(stat.parent.name))
        return children

    def close(self) -> None:
        if self.process is not None:
            process_stop(self.process)
            self.process = None


class CeleryWorker:
    """A real `celery worker` (solo pool, one queue), started and SIGKILLed like any process of production."""

    def __init__(self, *, environment: dict[str, str], broker: str, queue: str, directory: Path) -> None:
        self.environment = environment
        self.broker = broker
        self.queue = queue
        self.node = f"{queue}-{uuid.uuid4().hex[:6]}@localhost"
        self.log = directory / f"worker-{self.node}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = _spawn(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "-Q", self.queue, "-n",
             self.node, "--without-gossip", "--without-mingle", "--loglevel=INFO"],
            env=self.environment, log=self.log,
        )  # fmt: skip
        wait_until(self._answers_ping, timeout=45, message=f"celery worker {self.node}", interval=0.2, log=self.log)

    def _answers_ping(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"celery worker exited with {self.process.returncode}: {log_tail(self.log)}")
        return bool(broker_app(self.broker).control.ping(destination=[self.node], timeout=0.5))

    def kill(self) -> None:
        if self.process is not None:
            process_kill(self.process)
            self.process = None

    def close(self) -> None:
        if self.process is not None:
            process_stop(self.process, grace=15)
            self.process = None


@functools.cache
def broker_app(broker: str) -> Celery:
    """A bare Celery client of `broker`: the project's app publishes and pings through its own broker's pool, and
    runs tasks inline in this process."""
    return Celery(f"faults-{broker}", broker=broker, set_as_current=False)


def broker_send(*, broker: str, queue: str, task: str, args: tuple[str, ...] = ()) -> None:
    """Publish a task by name to `queue` on `broker`, as beat or another process of Botyard would."""
    broker_app(broker).send_task(task, args=list(args), queue=queue)


def stored_command(bot: Any, *, key: str, text: str = "!help", name: str = "Ana") -> Any:
    """A stored message whose wake-up was lost (as after any outage): the sweeper is what hands it to a worker.

    Going through the sweeper rather than publishing a processing task by name keeps these tests about outcomes,
    whatever shape the ingest path's tasks take.
    """
    from django.utils import timezone

    from groups.tests.factories import MessageFactory

    return MessageFactory(
        tenant=bot.tenant, group=bot.group, bot=bot, member=None, sender_id="555", sender_name=name,
        groupme_message_id=key, text=text, processed_at=None, received_at=timezone.now() - timedelta(minutes=1),
    )  # fmt: skip


def sweep(*, broker: str, queue: str) -> None:
    """One tick of beat's `bots.sweep_outbox`."""
    broker_send(broker=broker, queue=queue, task="bots.tasks.sweep_outbox")


class SweepBeat:
    """Beat's `bots.sweep_outbox` entry, ticking every `interval` seconds instead of every minute (the tests cannot
    wait for minute boundaries). Like beat, it keeps ticking through a broker outage; failed sends are counted."""

    def __init__(self, *, broker: str, queue: str, interval: float = 2.0) -> None:
        self.broker = broker
        self.queue = queue
        self.interval = interval
        self.sent = 0
        self.failed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._tick, daemon=True, name="fault-beat")

    def _tick(self) -> None:
        from kombu.exceptions import OperationalError as KombuOperationalError

        while not self._stop.wait(self.interval):
            try:
                broker_send(broker=self.broker, queue=self.queue, task="bots.tasks.sweep_outbox")
                self.sent += 1
            except (KombuOperationalError, OSError):
                self.failed += 1

    def __enter__(self) -> "SweepBeat":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


# --- Fixtures ---------------------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _needs_postgresql_and_redis() -> None:
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        pytest.skip("fault test: needs DATABASE_URL (PostgreSQL) and REDIS_URL")


@pytest.fixture(autouse=True)
def _hard_timeout(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fails a test that overruns (setup and teardown included); its fixtures still stop what they started."""
    limit = int(getattr(request.module, "HARD_TIMEOUT_SECONDS", DEFAULT_HARD_TIMEOUT_SECONDS))

    def overran(signum: int, frame: Any) -> None:
        pytest.fail(f"hard timeout: {request.node.nodeid} ran longer than {limit}s")

    previous = signal.signal(signal.SIGALRM, overran)
    signal.alarm(limit)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def fault_dir() -> Iterator[Path]:
    # Not pytest's tmp_path: its parents are private to root, and PostgreSQL runs as another user.
    directory = Path(tempfile.mkdtemp(prefix="botyard-faults-"))
    try:
        yield directory
    finally:
        if os.environ.get("FAULTS_KEEP_LOGS"):  # the processes' logs, for a failure to be read after the run
            print(f"fault logs kept in {directory}")
        else:
            shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def private_redis(fault_dir: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(fault_dir)
    server.start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    bin_dir = postgresql_bin()
    if bin_dir is None or (os.geteuid() == 0 and shutil.which("runuser") is None):
        pytest.skip("needs PostgreSQL's server binaries (/usr/lib/postgresql/*/bin) to start a private cluster")
    directory = Path(tempfile.mkdtemp(prefix="botyard-faults-pg-"))
    cluster = PrivatePostgres(directory, bin_dir)
    try:
        cluster.initdb()
        cluster.start()
        yield cluster
    finally:
        cluster.close()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def rabbitmq_proxy() -> Iterator[TcpProxy]:
    try:
        socket.create_connection(RABBITMQ, timeout=1).close()
    except OSError:
        pytest.skip("needs RabbitMQ on 127.0.0.1:5672")
    proxy = TcpProxy(RABBITMQ)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.cut()


@pytest.fixture
def test_database_url(transactional_db: None) -> str:
    """The test database, for processes of Botyard that must see what the test wrote (hence transactional)."""
    return database_url(connection.settings_dict)


@pytest.fixture
def queue_name() -> str:
    return f"faults-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def start_gunicorn(fault_dir: Path) -> Iterator[Callable[..., Gunicorn]]:
    started: list[Gunicorn] = []

    def start(environment: dict[str, str]) -> Gunicorn:
        server = Gunicorn(environment=environment, directory=fault_dir)
        started.append(server)
        server.start()
        return server

    try:
        yield start
    finally:
        for server in started:
            server.close()


@pytest.fixture
def start_worker(fault_dir: Path) -> Iterator[Callable[..., CeleryWorker]]:
    started: list[CeleryWorker] = []

    def start(*, environment: dict[str, str], broker: str, queue: str) -> CeleryWorker:
        worker = CeleryWorker(environment=environment, broker=broker, queue=queue, directory=fault_dir)
        started.append(worker)
        worker.start()
        return worker

    try:
        yield start
    finally:
        for worker in started:
            worker.close()


@pytest.fixture
def start_botyard_worker(
    test_database_url: str, private_redis: PrivateRedis, fake_groupme: Any, start_worker: Any, queue_name: str
) -> Callable[..., CeleryWorker]:
    """Starts a worker on the test database, the private Redis as its broker and cache; keywords are settings."""

    def start(**overrides: str) -> CeleryWorker:
        broker = private_redis.url(0)
        environment = botyard_environment(database=test_database_url, redis=broker, queue=queue_name,
                                          groupme=fake_groupme.base_url, **overrides)  # fmt: skip
        worker: CeleryWorker = start_worker(environment=environment, broker=broker, queue=queue_name)
        return worker

    return start


@pytest.fixture
def measure(request: pytest.FixtureRequest) -> Callable[..., None]:
    """Records what a scenario measured: printed now, and again in the run's closing summary."""

    def record(**figures: Any) -> None:
        line = f"{request.node.name}: {json.dumps(figures, default=str)}"
        MEASUREMENTS.append(line)
        print(line)

    return record


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if MEASUREMENTS:
        terminalreporter.section("fault suite measurements")
        for line in MEASUREMENTS:
            terminalreporter.write_line(line)
