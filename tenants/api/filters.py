from datetime import UTC, datetime
from typing import Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django_filters.fields import IsoDateTimeField
from drf_spectacular.utils import extend_schema_field

from tenants.api.dates import EARLIEST_REPORT_DATE, LATEST_REPORT_DATE, report_date_in_bounds

BOOLEAN_CHOICES = ["true", "false", "1", "0"]


# The query string carries text: the schema lists the four spellings accepted rather than a JSON boolean.
@extend_schema_field({"type": "string", "enum": BOOLEAN_CHOICES})
class StrictBooleanFilter(django_filters.BooleanFilter):
    """true/false (or 1/0). Anything else is a 400 naming the parameter, not a filter silently ignored."""

    field_class = forms.TypedChoiceField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("choices", [(choice, choice) for choice in BOOLEAN_CHOICES])
        kwargs.setdefault("coerce", lambda value: value in ("true", "1"))
        super().__init__(*args, **kwargs)


class ReportDateTimeField(IsoDateTimeField):
    """An ISO 8601 instant, held in UTC, within the report bounds.

    Python accepts offsets up to ±23:59 and any year from 1; PostgreSQL refuses offsets past ±15:59 and the
    conversion to UTC overflows near year 1. Either was a 500 from a filter; now it is a 400 naming the parameter.
    """

    def to_python(self, value: Any) -> datetime | None:
        out_of_bounds = ValidationError(
            f"An ISO 8601 date and time from {EARLIEST_REPORT_DATE} to {LATEST_REPORT_DATE}.", code="invalid"
        )
        try:
            parsed: datetime | None = super().to_python(value)
            moment = parsed.astimezone(UTC) if parsed is not None else None
        except OverflowError:
            raise out_of_bounds from None
        if moment is not None and not report_date_in_bounds(day=moment.date()):
            raise out_of_bounds
        return moment


class ReportDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = ReportDateTimeField
