import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from tenants.models import ApiKey, Membership, Role, Tenant

pytestmark = pytest.mark.django_db


def _run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_create_tenant_prints_one_json_line_with_a_working_key():
    output = _run("create_tenant", "Lakeside Runners", "--owner-email", "Coach@Example.com", "--password", "s3cret!pw")

    assert len(output.strip().splitlines()) == 1
    created = json.loads(output)
    tenant = Tenant.objects.get(pk=created["tenant_id"])
    assert created["tenant"] == tenant.slug == "lakeside-runners"
    owner = Membership.objects.for_tenant(tenant).get().user
    assert owner.email == "coach@example.com"
    assert owner.check_password("s3cret!pw")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {created['api_key']}")
    assert client.get("/api/v1/api-keys/").status_code == 200


def test_create_tenant_gives_a_second_tenant_of_the_same_name_its_own_slug():
    first = json.loads(_run("create_tenant", "Chess Club", "--owner-email", "a@example.com"))
    second = json.loads(_run("create_tenant", "Chess Club", "--owner-email", "b@example.com"))

    assert (first["tenant"], second["tenant"]) == ("chess-club", "chess-club-2")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["Bad Zone", "--owner-email", "x@example.com", "--time-zone", "Mars/Olympus"], "(?i)time ?zone"),
        (["Bad Money", "--owner-email", "x@example.com", "--currency", "XYZ"], "ISO 4217"),
        (["  ", "--owner-email", "x@example.com"], "name"),
    ],
)
def test_create_tenant_refuses_bad_input_and_creates_nothing(args, message):
    with pytest.raises(CommandError, match=message):
        _run("create_tenant", *args)
    assert not Tenant.objects.exists()


def test_rotate_api_keys_command_runs_the_job(tenant):
    assert json.loads(_run("rotate_api_keys")) == {"expired": 0, "grace_ended": 0, "notices_sent": 0}


def test_seed_demo_is_idempotent_and_says_how_to_log_in():
    first = _run("seed_demo")
    _run("seed_demo")

    assert "demo@botyard.localhost" in first
    assert Tenant.objects.count() == 2
    roles = set(Membership.objects.filter(user__email="demo@botyard.localhost").values_list("role", flat=True))
    assert roles == {Role.OWNER, Role.ANALYST}
    assert ApiKey.objects.count() == 2
