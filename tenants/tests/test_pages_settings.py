"""The Settings page: name, time zone (which re-cuts the KPIs), currency, and the wording bots use."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.utils.html import escape

from analytics.models import DailyRollup
from analytics.services import kpi_aggregate_tenant
from groups.tests.factories import MessageFactory
from tenants.models import DEFAULT_FALLBACK_REPLY, DEFAULT_OPTIN_REPLY, DEFAULT_OPTOUT_REPLY, Role, Tenant
from tenants.tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def _url(tenant):
    return f"/t/{tenant.slug}/settings/"


def _valid(tenant, **changes):
    data = {
        "name": tenant.name,
        "time_zone": str(tenant.time_zone),
        "default_currency": tenant.default_currency,
        "ad_disclosure": tenant.ad_disclosure,
        "default_fallback_reply": tenant.default_fallback_reply,
        "optout_reply": tenant.optout_reply,
        "optin_reply": tenant.optin_reply,
    }
    return {**data, **changes}


def _saved(tenant):
    return Tenant.objects.values().get(pk=tenant.pk)


def test_the_form_shows_the_current_settings(owner_client, tenant):
    page = owner_client.get(_url(tenant)).content.decode()

    assert f'value="{escape(tenant.name)}"' in page
    assert '<option value="America/New_York" selected>' in page
    assert '<option value="USD" selected>' in page
    assert escape(DEFAULT_OPTOUT_REPLY) in page
    assert escape(DEFAULT_OPTIN_REPLY) in page
    assert escape(DEFAULT_FALLBACK_REPLY) in page
    assert "Save settings" in page


@pytest.mark.parametrize("disabled", [False, True])
@pytest.mark.parametrize("chosen", ["Europe/Berlin", "", "Mars/Olympus_Mons"])
def test_the_long_selects_write_what_djangos_select_writes(chosen, disabled):
    from django import forms

    from tenants.forms import FixedChoices, LongSelect

    # Markup in the labels and values must come out escaped, as Django's option template escapes it.
    choices = [("Europe/Berlin", "Europe/Berlin"), ("a&b", '<b>A</b> & "B"'), ("Europe/Berlin", "again")]

    class Plain(forms.Form):
        zone = forms.ChoiceField(choices=choices, help_text="Help.")

    class Long(forms.Form):
        zone = forms.ChoiceField(choices=FixedChoices(choices), widget=LongSelect, help_text="Help.")

    rendered = []
    for form_class in (Plain, Long):
        form = form_class({"zone": chosen})
        form.fields["zone"].disabled = disabled
        form.is_valid()
        rendered.append(str(form["zone"]))

    assert rendered[0] == rendered[1]
    assert ("aria-invalid" in rendered[1]) is bool(form.errors)
    assert rendered[1].count(" selected>") == (chosen == "Europe/Berlin" and not disabled)


def test_every_form_shares_the_long_choices_and_a_form_refuses_what_they_lack():
    from tenants.forms import TenantSettingsForm

    first, second = TenantSettingsForm(), TenantSettingsForm({"time_zone": "Europe/Berlin "})

    assert first.fields["time_zone"].choices is second.fields["time_zone"].choices
    assert len(list(first.fields["time_zone"].choices)) > 400
    second.is_valid()
    assert "Select a valid choice." in second.errors["time_zone"][0]


def test_an_owner_changes_every_setting(owner_client, tenant):
    data = _valid(
        tenant,
        name="Alice's Anglers Club",
        default_currency="EUR",
        ad_disclosure="[sponsored]",
        default_fallback_reply="Hm, {name}? Try !help.",
        optout_reply="Done, {name}. {optin} brings you back.",
        optin_reply="Hi again {name}; {optout} to leave.",
    )

    response = owner_client.post(_url(tenant), data, follow=True)

    assert response.redirect_chain == [(_url(tenant), 302)]
    assert "Settings saved." in response.content.decode()
    saved = _saved(tenant)
    for field in ("name", "default_currency", "ad_disclosure", "default_fallback_reply", "optout_reply", "optin_reply"):
        assert saved[field] == data[field], field


def test_admins_change_settings_and_analysts_cannot(client, tenant):
    client.force_login(MembershipFactory(tenant=tenant, user=UserFactory(), role=Role.ADMIN).user)
    assert client.post(_url(tenant), _valid(tenant, name="By admin")).status_code == 302

    client.force_login(MembershipFactory(tenant=tenant, user=UserFactory(), role=Role.ANALYST).user)
    assert client.post(_url(tenant), _valid(tenant, name="By analyst")).status_code == 403
    assert _saved(tenant)["name"] == "By admin"


def test_analysts_see_the_settings_read_only(client, tenant):
    client.force_login(MembershipFactory(tenant=tenant, user=UserFactory(), role=Role.ANALYST).user)

    page = client.get(_url(tenant)).content.decode()

    assert "Your role is read-only" in page
    assert "Save settings" not in page
    assert page.count(" disabled") >= 7


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        (
            "optout_reply",
            "Bye {nmae}. {optin} to return.",
            "Unknown placeholder {nmae}; this text may use {name}, {optin}.",
        ),
        ("optout_reply", "Bye {name}. {optout} to return.", "Unknown placeholder {optout}"),
        ("optin_reply", "Welcome back {name", "A brace is not closed"),
        (
            "optin_reply",
            "Welcome back {name}, {optin}",
            "Unknown placeholder {optin}; this text may use {name}, {optout}.",
        ),
        ("default_fallback_reply", "Sorry {member}", "Unknown placeholder {member}"),
        ("optout_reply", "", "This field is required."),
        ("time_zone", "Mars/Olympus_Mons", "Select a valid choice."),
        ("default_currency", "XYZ", "Select a valid choice."),
        ("name", "", "This field is required."),
    ],
)
def test_bad_input_is_refused_inline_and_nothing_changes(owner_client, tenant, field, value, error):
    before = _saved(tenant)
    # Every other field changes validly in the same request: none of it may be saved.
    data = {**_valid(tenant, name="Renamed", ad_disclosure="[promo]"), field: value}

    response = owner_client.post(_url(tenant), data)

    assert response.status_code == 400
    page = response.content.decode()
    assert escape(error) in page
    assert 'class="errorlist"' in page
    assert _saved(tenant) == before


def test_the_service_refuses_a_zone_the_form_did_not_check(tenant):
    from django.core.exceptions import ValidationError

    from tenants.services import tenant_settings_update

    with pytest.raises(ValidationError) as refused:
        tenant_settings_update(tenant=tenant, time_zone="Mars/Olympus_Mons", name="Renamed")

    assert "time_zone" in refused.value.message_dict
    assert _saved(tenant)["name"] == "Alice's Anglers"


def test_a_time_zone_change_rebuilds_the_tenants_figures_in_the_new_zone(
    owner_client, tenant, django_capture_on_commit_callbacks
):
    # 03:30 UTC on 11 November is the 10th in New York and the 11th in Berlin.
    MessageFactory(tenant=tenant, sent_at=datetime(2026, 11, 11, 3, 30, tzinfo=UTC))
    kpi_aggregate_tenant(tenant=tenant)
    assert list(DailyRollup.objects.filter(tenant=tenant).values_list("day", flat=True)) == [date(2026, 11, 10)]

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = owner_client.post(_url(tenant), _valid(tenant, time_zone="Europe/Berlin"), follow=True)

    assert len(callbacks) == 1
    assert "Figures are being recomputed in the new time zone." in response.content.decode()
    tenant.refresh_from_db()
    assert tenant.time_zone == ZoneInfo("Europe/Berlin")
    assert list(DailyRollup.objects.filter(tenant=tenant).values_list("day", flat=True)) == [date(2026, 11, 11)]


def test_saving_without_a_new_time_zone_rebuilds_nothing(owner_client, tenant, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = owner_client.post(_url(tenant), _valid(tenant, name="Renamed"))

    assert response.status_code == 302
    assert callbacks == []


def test_a_new_tenant_starts_with_the_wording_bots_always_used(db):
    tenant = Tenant.objects.create(name="Fresh", slug="fresh")

    assert tenant.default_fallback_reply == "Sorry, I don't know that one."
    assert tenant.optout_reply_for(name="Cy", optin_command="!optin") == (
        "Cy, you're opted out: I won't keep your messages. Send !optin to opt back in."
    )
    assert tenant.optin_reply_for(name="Cy", optout_command="!optout") == "Welcome back, Cy! Your messages count again."


def test_a_time_zone_changed_in_the_admin_starts_the_same_rebuild(tenant, django_capture_on_commit_callbacks):
    from types import SimpleNamespace

    from django.contrib import admin

    from tenants.admin import TenantAdmin

    tenant_admin = TenantAdmin(Tenant, admin.site)
    tenant.time_zone = "Europe/Berlin"

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        tenant_admin.save_model(None, tenant, SimpleNamespace(changed_data=["time_zone"]), change=True)
    with django_capture_on_commit_callbacks(execute=False) as unchanged:
        tenant_admin.save_model(None, tenant, SimpleNamespace(changed_data=["name"]), change=True)

    assert len(callbacks) == 1
    assert unchanged == []
