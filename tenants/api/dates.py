"""The dates a report can be asked about.

Reports step back from their dates (a week before `end`, the period before `start`) and convert them to datetimes
in the tenant's zone; near year 1 or 9999 that arithmetic overflows, which was a 500. Botyard holds no data outside
these bounds, so a date beyond them is a 400 naming the parameter.
"""

from datetime import date
from typing import Any

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from rest_framework import serializers

EARLIEST_REPORT_DATE = date(2000, 1, 1)
LATEST_REPORT_DATE = date(2999, 12, 31)
REPORT_DATE_RULE = f"A date from {EARLIEST_REPORT_DATE} to {LATEST_REPORT_DATE}, as YYYY-MM-DD."


def report_date_in_bounds(*, day: date) -> bool:
    return EARLIEST_REPORT_DATE <= day <= LATEST_REPORT_DATE


class ReportDateField(serializers.DateField):
    """A YYYY-MM-DD query parameter within the report bounds."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("input_formats", ["%Y-%m-%d"])
        kwargs.setdefault("help_text", REPORT_DATE_RULE)
        super().__init__(**kwargs)

    def to_internal_value(self, value: Any) -> date:
        day = super().to_internal_value(value)
        if not report_date_in_bounds(day=day):
            raise serializers.ValidationError(REPORT_DATE_RULE)
        return day


class ReportDateFormField(forms.DateField):
    """The dashboard's YYYY-MM-DD filter fields (a date input), within the same bounds as the API's."""

    def __init__(self, *, label: str, required: bool = False) -> None:
        super().__init__(
            label=label,
            required=required,
            input_formats=["%Y-%m-%d"],
            widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            error_messages={"invalid": "A date as YYYY-MM-DD."},
            validators=[
                MinValueValidator(EARLIEST_REPORT_DATE, message=REPORT_DATE_RULE),
                MaxValueValidator(LATEST_REPORT_DATE, message=REPORT_DATE_RULE),
            ],
        )
