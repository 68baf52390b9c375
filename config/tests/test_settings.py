"""Production settings are checked in a fresh interpreter with a controlled environment, as a deploy would start."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "SECRET_KEY": "k" * 10 + "botyard-production-secret-with-enough-entropy-0123456789",
    "FIELD_ENCRYPTION_KEY": "dGVzdC1maWVsZC1lbmNyeXB0aW9uLWtleS0zMi1ieXQ=",
    "ALLOWED_HOSTS": "botyard.example.com",
    "PUBLIC_BASE_URL": "https://botyard.example.com",
}


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    inherited = {name: value for name, value in os.environ.items() if name in ("PATH", "HOME", "LANG")}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT, env={**inherited, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_production_refuses_to_start_without_a_secret_key():
    result = _manage("check", DEBUG="false")

    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_refuses_to_start_without_a_field_encryption_key():
    env = {name: value for name, value in PRODUCTION.items() if name != "FIELD_ENCRYPTION_KEY"}
    result = _manage("check", **env)

    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEY must be set" in result.stderr


def test_deploy_check_is_clean_with_the_default_https_settings():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)

    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_collectstatic_with_the_production_storage_hashes_and_compresses_every_asset(tmp_path):
    """The manifest storage refuses a stylesheet or script that points at a file it cannot find (a vendored library's
    source map, say): the deploy step would fail."""
    result = _manage("collectstatic", "--noinput", STATIC_ROOT=str(tmp_path), **PRODUCTION)

    assert result.returncode == 0, result.stderr
    manifest = (tmp_path / "staticfiles.json").read_text()
    for asset in ("vendor/chartjs/chart.umd.min.js", "vendor/htmx/htmx.min.js", "js/app.js", "css/app.css"):
        assert f'"{asset}"' in manifest
    assert list(tmp_path.glob("vendor/chartjs/chart.umd.min.*.js.gz"))


def test_plain_http_on_loopback_drops_the_secure_only_cookie_flags():
    probe = (
        "from django.conf import settings as s; "
        "print(s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.SECURE_HSTS_SECONDS)"
    )
    result = _manage("shell", "--verbosity", "0", "-c", probe, SECURE_SSL_REDIRECT="false", **PRODUCTION)

    assert result.stdout.split() == ["False", "False", "0"]


def test_zero_config_development_starts_with_sqlite_and_inline_tasks():
    probe = (
        "from django.conf import settings as s; "
        "print(s.DATABASES['default']['ENGINE'], s.CACHES['default']['BACKEND'], s.CELERY_TASK_ALWAYS_EAGER)"
    )
    result = _manage("shell", "--verbosity", "0", "-c", probe, DEBUG="true")

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "django.db.backends.sqlite3",
        "django.core.cache.backends.locmem.LocMemCache",
        "True",
    ]
