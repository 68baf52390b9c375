"""Settings for benchmarks: the project's settings, plus a bare view to measure the stack's own floor.

The environment comes from the benchmark script (bench/callback_ingest.py sets every variable it relies on).
The database must be a dedicated one: the script deletes what it wrote there after a run.
"""

import warnings

from django.core.exceptions import ImproperlyConfigured

from config.settings import *  # noqa: F403
from config.settings import DATABASES

ROOT_URLCONF = "bench.urls"

if "bench" not in str(DATABASES["default"].get("NAME", "")):
    raise ImproperlyConfigured("bench.settings needs a dedicated database whose name contains 'bench'.")

# Benchmarks run without collectstatic; WhiteNoise says so once per process, which is noise here.
warnings.filterwarnings("ignore", message="No directory at: ")
