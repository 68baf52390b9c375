"""Forms of the money pages. They parse what a person typed; the services of this app validate and decide, and
their errors are put back on these forms (`service_errors_to_form`), so a rule lives in one place."""

import re
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from groups.models import Group
from groups.selectors import group_list
from monetization.models import Conversion, Creative, Link, MonetizationSource
from monetization.selectors import source_list
from monetization.sponsorship import source_list_sponsorship
from tenants.api.dates import ReportDateFormField
from tenants.models import Tenant

ISO_DATE = ["%Y-%m-%d"]
DEFAULT_RANGE_DAYS = 30
MAX_RANGE_DAYS = 366  # as the ledger and sponsor-performance API endpoints allow
LOCAL_DATETIME = "%Y-%m-%dT%H:%M"
SMALLINT_MAX = 32767  # PositiveSmallIntegerField: larger values would fail in the database, not in validation


def service_errors_to_form(form: forms.Form, error: ValidationError) -> None:
    """A service's ValidationError, inline: per field where the form has that field, else above the form."""
    if hasattr(error, "error_dict"):
        for name, messages in error.message_dict.items():
            form.add_error(name if name in form.fields else None, messages)
    else:
        form.add_error(None, error.messages)


def _date_field(label: str) -> forms.DateField:
    return ReportDateFormField(label=label)


def _local_datetime_field(label: str, *, required: bool, help_text: str = "") -> forms.DateTimeField:
    # Parsed and shown in the active time zone, which the money pages set to the tenant's.
    return forms.DateTimeField(
        label=label,
        required=required,
        help_text=help_text,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=LOCAL_DATETIME),
        error_messages={"invalid": "A date and time, e.g. 2025-06-01 09:00."},
    )


def _check_range(form: forms.Form, since: date | None, until: date | None) -> None:
    if since is None or until is None:
        return
    if until < since:
        form.add_error("until", "On or after the start date.")
    elif (until - since).days + 1 > MAX_RANGE_DAYS:
        form.add_error("until", f"A range is at most {MAX_RANGE_DAYS} days.")


class PeriodForm(forms.Form):
    """`since`/`until`: days in the tenant's time zone, inclusive. Missing ones mean the last 30 days (to `until`)."""

    since = _date_field("From")
    until = _date_field("To")

    def __init__(self, data: Mapping[str, Any], *, today: date, **kwargs: Any) -> None:
        filled = {name: data.get(name, "") for name in data}
        if not filled.get("until"):
            filled["until"] = today.isoformat()
        if not filled.get("since"):
            try:
                until = date.fromisoformat(filled["until"])
            except ValueError:
                until = today  # the bad `until` is reported by the field itself
            filled["since"] = (until - timedelta(days=DEFAULT_RANGE_DAYS - 1)).isoformat()
        super().__init__(filled, **kwargs)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        _check_range(self, cleaned.get("since"), cleaned.get("until"))
        return cleaned


LEDGER_GROUPINGS = [
    ("source", "Source"),
    ("kind", "Source kind"),
    ("currency", "Currency only"),
    ("day", "Day"),
    ("bot", "Bot"),
    ("group", "Group"),
]


class LedgerForm(PeriodForm):
    group_by = forms.ChoiceField(label="Group by", choices=LEDGER_GROUPINGS, required=False)

    def clean_group_by(self) -> str:
        return str(self.cleaned_data.get("group_by") or "source")


class ConversionFilterForm(forms.Form):
    """The drill-down parameters of the conversions list: since, until, source, kind (the conversion's outcome)."""

    since = _date_field("From")
    until = _date_field("To")
    source = forms.ChoiceField(label="Source", required=False, error_messages={"invalid_choice": "No such source."})
    kind = forms.ChoiceField(
        label="Kind",
        required=False,
        choices=[("", "All kinds"), *Conversion.Outcome.choices],
        error_messages={"invalid_choice": f"One of {', '.join(Conversion.Outcome.values)}."},
    )

    def __init__(self, data: Mapping[str, Any], *, sources: Sequence[MonetizationSource], **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        self.fields["source"].choices = [("", "All sources"), *((str(source.pk), source.name) for source in sources)]  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        _check_range(self, cleaned.get("since"), cleaned.get("until"))
        return cleaned


# --- Sources ---------------------------------------------------------------------------------------------------------


class SourceForm(forms.Form):
    name = forms.CharField(max_length=100)
    kind = forms.ChoiceField(
        choices=MonetizationSource.Kind.choices,
        help_text="Subscription and donation sources also get a signed payment webhook. The kind cannot change later.",
    )
    attribution_window_days = forms.IntegerField(
        label="Attribution window (days)",
        min_value=1,
        max_value=SMALLINT_MAX,
        initial=30,
        help_text="A conversion counts for the last click on one of your links this many days before it.",
    )
    details = forms.JSONField(
        label="Settings (JSON)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text='Anything to keep with the source, as a JSON object, e.g. {"network": "Impact", "commission": "8%"}.',
    )
    is_active = forms.BooleanField(
        label="Active", required=False, initial=True, help_text="An inactive source refuses postbacks."
    )

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if editing:
            del self.fields["kind"]

    def clean_details(self) -> dict[str, Any]:
        details = self.cleaned_data.get("details")
        if details in (None, ""):
            return {}
        if not isinstance(details, dict):
            raise ValidationError('A JSON object, e.g. {"network": "Impact"}.')
        return details


# --- Links -----------------------------------------------------------------------------------------------------------


class LinkForm(forms.Form):
    name = forms.CharField(max_length=100, required=False, help_text="For you; members only see the short URL.")
    # A plain text field: the service decides what a valid destination is, and says so.
    destination_url = forms.CharField(label="Destination URL", max_length=2000, widget=forms.URLInput)
    click_param = forms.CharField(
        label="Click parameter",
        max_length=40,
        initial="click_id",
        help_text="The query parameter that carries the click id to the destination; the source's postback sends it "
        "back as click_id.",
    )
    source = forms.ModelChoiceField(
        queryset=MonetizationSource.objects.none(),
        required=False,
        empty_label="No source",
        help_text="Whose conversions these clicks lead to.",
    )

    def __init__(self, *args: Any, tenant: Tenant, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["source"].queryset = source_list(tenant=tenant).order_by("name", "pk")  # type: ignore[attr-defined]


# --- Sponsored messages ----------------------------------------------------------------------------------------------


class CreativeForm(forms.Form):
    source = forms.ModelChoiceField(
        label="Sponsor",
        queryset=MonetizationSource.objects.none(),
        help_text="A sponsorship source.",
    )
    name = forms.CharField(max_length=100, required=False)
    text = forms.CharField(
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Your disclosure (e.g. #ad) and the sponsor's name are put in front of it.",
    )
    link = forms.ModelChoiceField(
        queryset=Link.objects.none(), required=False, empty_label="No link", help_text="Added as a tracked short URL."
    )
    mode = forms.ChoiceField(choices=Creative.Mode.choices)
    post_times = forms.CharField(
        label="Post times",
        required=False,
        help_text="Scheduled mode: times of day in the tenant's time zone, comma-separated, e.g. 09:00, 17:30.",
    )
    starts_at = _local_datetime_field("Starts", required=True)
    ends_at = _local_datetime_field("Ends", required=False, help_text="Empty: runs until you stop it.")
    daily_cap_per_group = forms.IntegerField(
        label="Daily cap per group",
        max_value=SMALLINT_MAX,
        initial=3,
        help_text="At most this many impressions in each group per day (the tenant's day).",
    )
    groups = forms.ModelMultipleChoiceField(
        queryset=Group.objects.none(),  # every choice queryset is the tenant's, set in __init__
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every group.",
    )
    is_active = forms.BooleanField(label="Active", required=False, initial=True)

    def __init__(self, *args: Any, tenant: Tenant, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["source"].queryset = source_list_sponsorship(tenant=tenant)  # type: ignore[attr-defined]
        self.fields["link"].queryset = Link.objects.for_tenant(tenant).order_by("name", "destination_url")  # type: ignore[attr-defined]
        self.fields["groups"].queryset = group_list(tenant=tenant).order_by("name", "pk")  # type: ignore[attr-defined]

    def clean_post_times(self) -> list[str]:
        """Split only; the service checks each time (and that a scheduled creative has one)."""
        return [part for part in re.split(r"[,\s]+", self.cleaned_data.get("post_times") or "") if part]
