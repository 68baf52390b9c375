"""gunicorn in production: `gunicorn config.wsgi` from the project's root (gunicorn reads ./gunicorn.conf.py, which
takes these settings), or `gunicorn -c config/gunicorn.conf.py config.wsgi` from anywhere. Started elsewhere without
`-c`, gunicorn would run its default single sync worker, which uses at most one core.
The figures behind these defaults are in docs/PERFORMANCE.md ("gunicorn configuration"). Each value can be set
from the environment; command-line flags override this file.
"""

import os

# One process per core, each with threads: a callback spends most of its time waiting for PostgreSQL's commit (a
# WAL flush), and a thread waiting releases the GIL, so the others run and PostgreSQL flushes their commits
# together. On 2 shared cores: 1,300-2,150 callbacks/s with 2 x 8 threads; in one run 783 with 4 x 4 threads
# against 156 with 4 sync workers. Each thread keeps its own PostgreSQL connection (CONN_MAX_AGE): workers x threads
# connections per web host, 16 on two cores; size max_connections (or a pooler) for every host and the workers.
workers = int(os.environ.get("WEB_CONCURRENCY") or os.cpu_count() or 1)
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
# Where the master listens; gunicorn's own default (127.0.0.1:8000, or 0.0.0.0:$PORT when PORT is set) otherwise.
if os.environ.get("GUNICORN_BIND"):
    bind = os.environ["GUNICORN_BIND"].split(",")
backlog = 2048
timeout = 30
graceful_timeout = 30
keepalive = 5  # behind a proxy that keeps connections open (gthread only; sync workers close each one)
# Every request is logged by the application (config.observability) with its request id; no second access log.
accesslog = None
