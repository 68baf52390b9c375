"""gunicorn reads ./gunicorn.conf.py when no `-c` is given, so the contract's plain `gunicorn config.wsgi`, run from
here, gets production's configuration (config/gunicorn.conf.py: gthread workers, one per core) instead of gunicorn's
single sync worker. The settings live there only; this file takes them as they are.
"""

from pathlib import Path
from runpy import run_path

globals().update(
    (name, value)
    for name, value in run_path(str(Path(__file__).resolve().parent / "config" / "gunicorn.conf.py")).items()
    if not name.startswith("_")
)
