"""Security headers, the Content-Security-Policy and cookie flags, on the pages people and integrators use.

In-process tests check the headers every response carries; a fresh interpreter with production-like environment
variables (as config/tests/test_settings.py starts one, whose `check --deploy --fail-level WARNING` test covers the
deploy check) checks what the HTTPS settings derive: HSTS and the Secure, HttpOnly and SameSite cookie flags.
"""

import json
import re
from typing import Any

import pytest

from config.tests.test_settings import PRODUCTION, ROOT, _manage
from tenants.models import Role
from tenants.tests.factories import ApiKeyFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def _policy(header: str) -> dict[str, list[str]]:
    directives = (directive.split() for directive in header.split(";") if directive.strip())
    return {name: sources for name, *sources in directives}


def _assert_secured(response: Any) -> None:
    assert _policy(response["Content-Security-Policy"]) == POLICY
    for name, value in HEADERS.items():
        assert response[name] == value, name


def test_the_login_page_is_served_with_the_policy_and_the_security_headers(client: Any) -> None:
    response = client.get("/accounts/login/")

    assert response.status_code == 200
    _assert_secured(response)


def test_a_dashboard_page_is_served_with_the_policy_and_the_security_headers(client: Any, tenant: Any) -> None:
    user = UserFactory()
    MembershipFactory(tenant=tenant, user=user, role=Role.OWNER)
    client.force_login(user)

    response = client.get(f"/t/{tenant.slug}/")

    assert response.status_code == 200
    _assert_secured(response)


@pytest.mark.parametrize("path", ["/api/v1/bots/", "/api/v1/nothing-here/", "/api/docs/", "/api/schema/"])
def test_api_responses_are_served_with_the_policy_and_the_security_headers(client, tenant, path):
    key = ApiKeyFactory(tenant=tenant)

    response = client.get(path, HTTP_AUTHORIZATION=f"Api-Key {key.raw_key}")

    assert response.status_code in (200, 404)
    _assert_secured(response)


def test_the_dashboard_templates_carry_no_inline_script_style_or_handler(client: Any, tenant: Any) -> None:
    user = UserFactory()
    MembershipFactory(tenant=tenant, user=user, role=Role.OWNER)
    client.force_login(user)

    for path in (f"/t/{tenant.slug}/", f"/t/{tenant.slug}/analytics/", "/api/docs/"):
        page = client.get(path).content.decode()
        assert "<style" not in page, path
        assert " style=" not in page, path
        scripts = page.split("<script")[1:]
        # Either loaded from a file, or data for the page's scripts (json_script), never code to run.
        assert all(" src=" in script.split(">")[0] or 'type="application/json"' in script for script in scripts)


# What a production process derives from its environment: one fresh interpreter, the login page over HTTPS and
# over plain HTTP, and the session cookie as SessionMiddleware writes it (with a signed-cookie store: no database).
PROBE = """
import json
from django.conf import settings
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpResponse
from django.test import Client, RequestFactory

# Production serves hashed names from collectstatic's manifest, which a checkout has not built: plain names here.
plain_names = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
settings.STORAGES = {**settings.STORAGES, "staticfiles": plain_names}
login = Client().get("/accounts/login/", secure=True, HTTP_HOST="botyard.example.com")
plain = Client().get("/accounts/login/", HTTP_HOST="botyard.example.com")
settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"

def signed_in(request):
    request.session["seen"] = True
    return HttpResponse()

session = SessionMiddleware(signed_in)(RequestFactory().get("/", secure=True))

def flags(cookie):
    return {name: cookie[name] for name in ("secure", "httponly", "samesite")}

print(json.dumps({
    "login": login.status_code,
    "plain": [plain.status_code, plain.get("Location")],
    "hsts": login.get("Strict-Transport-Security"),
    "csp": login.get("Content-Security-Policy"),
    "csrf_cookie": flags(login.cookies[settings.CSRF_COOKIE_NAME]),
    "session_cookie": flags(session.cookies[settings.SESSION_COOKIE_NAME]),
}))
"""


def _production(**env: str) -> dict[str, Any]:
    result = _manage("shell", "--verbosity", "0", "-c", PROBE, **{**PRODUCTION, **env})
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


def test_production_over_https_sends_hsts_and_secure_httponly_lax_cookies() -> None:
    report = _production()

    assert report["login"] == 200
    assert report["plain"] == [301, "https://botyard.example.com/accounts/login/"]
    assert report["hsts"] == "max-age=31536000; includeSubDomains; preload"
    assert _policy(report["csp"]) == POLICY
    assert report["csrf_cookie"] == {"secure": True, "httponly": "", "samesite": "Lax"}
    assert report["session_cookie"] == {"secure": True, "httponly": True, "samesite": "Lax"}


def test_plain_http_on_loopback_keeps_httponly_and_lax_but_drops_secure_and_hsts() -> None:
    report = _production(SECURE_SSL_REDIRECT="false")

    assert report["hsts"] is None
    assert report["csrf_cookie"] == {"secure": "", "httponly": "", "samesite": "Lax"}
    assert report["session_cookie"] == {"secure": "", "httponly": True, "samesite": "Lax"}


def test_every_htmx_config_turns_off_the_indicator_style_the_policy_would_refuse() -> None:
    # htmx reads only the first htmx-config on a page; whichever a page carries must keep htmx from adding a <style>.
    configs = []
    for template in ROOT.glob("**/templates/**/*.html"):
        if ".venv" in template.parts:
            continue
        for content in re.findall(r"<meta name=\"htmx-config\" content='([^']*)'", template.read_text()):
            configs.append((template.relative_to(ROOT).as_posix(), json.loads(content)))

    assert "templates/base.html" in {name for name, _ in configs}
    assert all(config.get("includeIndicatorStyles") is False for _, config in configs), configs
