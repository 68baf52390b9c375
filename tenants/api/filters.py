from typing import Any

import django_filters
from django import forms


class StrictBooleanFilter(django_filters.BooleanFilter):
    """true/false (or 1/0). Anything else is a 400 naming the parameter, not a filter silently ignored."""

    field_class = forms.TypedChoiceField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("choices", [("true", "true"), ("false", "false"), ("1", "1"), ("0", "0")])
        kwargs.setdefault("coerce", lambda value: value in ("true", "1"))
        super().__init__(*args, **kwargs)
