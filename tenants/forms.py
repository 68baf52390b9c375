"""Forms of the API keys, Team and Settings pages. They parse input; the services decide what is allowed."""

from collections.abc import Iterator
from html import escape
from typing import Any
from zoneinfo import available_timezones

from django import forms
from django.contrib.auth.password_validation import password_validators_help_text_html, validate_password
from django.utils.choices import BaseChoiceIterator
from django.utils.safestring import SafeString, mark_safe

from monetization.currencies import CURRENCY_CHOICES
from tenants.models import ApiKey, Membership, Role, Tenant, User

TIME_ZONE_CHOICES = [(zone, zone) for zone in sorted(available_timezones())]


def role_choices_for(actor: Membership) -> list[tuple[str, str]]:
    """The roles `actor` may grant: the form offers only these (the services refuse the others anyway)."""
    return [(value, label) for value, label in Role.choices if actor.can_manage(value)]


class ApiKeyCreateForm(forms.Form):
    name = forms.CharField(
        label="Key name",
        max_length=ApiKey._meta.get_field("name").max_length,
        help_text="Say where the key is used, e.g. “CRM sync”, so you know what breaks when you revoke it.",
    )


class InvitationForm(forms.Form):
    email = forms.EmailField(label="E-mail address")
    role = forms.ChoiceField(label="Role", choices=Role.choices, initial=Role.ANALYST)

    def __init__(self, *args: Any, actor: Membership, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only what the actor may grant is offered; a forged role still reaches the service, which answers 403.
        self.fields["role"].widget.choices = role_choices_for(actor)


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(label="Role", choices=Role.choices)


class FixedChoices(BaseChoiceIterator):
    """A long, constant list of choices that every instance of a form shares. A plain list is deep-copied for the
    field and copied and normalized again for its widget with each new form: ~600 tuples twice for the time zones."""

    def __init__(self, choices: list[tuple[str, str]]) -> None:
        self.choices = tuple(choices)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.choices)

    def __deepcopy__(self, memo: dict[int, Any]) -> "FixedChoices":
        return self


class LongSelect(forms.Select):
    """A <select> over a long list of plain (value, label) strings, e.g. the ~600 time zones.

    Django renders each option through its own template include: the time zones and currencies were ~60 of the
    Settings page's ~80 ms of CPU. Here the options are written in Python, escaped, exactly as Django's
    `select_option.html` writes them; the <select> tag and its attributes (id, required, disabled, aria-*) still
    come from Django's attrs template. Single choice, no option groups.
    """

    template_name = "tenants/widgets/long_select.html"

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        # Widget's context, not ChoiceWidget's: that one builds a dict per option for the template to loop over.
        context: dict[str, Any] = forms.Widget.get_context(self, name, value, attrs)
        context["widget"]["options_markup"] = self.options_markup(context["widget"]["value"])
        return context

    def options_markup(self, chosen: list[str]) -> SafeString:
        parts = []
        selected_one = False
        for option_value, label in self.choices:
            value_text = "" if option_value is None else str(option_value)
            selected = not selected_one and value_text in chosen  # the first match only, as Django does
            selected_one |= selected
            attributes = " selected" if selected else ""
            parts.append(f'\n  <option value="{escape(value_text)}"{attributes}>{escape(str(label))}</option>\n')
        return mark_safe("".join(parts))  # noqa: S308 - every value and label escaped above


class TenantSettingsForm(forms.Form):
    """The tenant's settings; their rules (placeholders, currency codes, zones) live on the model and the service."""

    name = forms.CharField(label="Name", max_length=Tenant._meta.get_field("name").max_length)
    time_zone = forms.ChoiceField(
        label="Time zone",
        choices=FixedChoices(TIME_ZONE_CHOICES),
        widget=LongSelect,
        help_text="Days in every chart and report are cut in this zone. Changing it recomputes all figures.",
    )
    default_currency = forms.ChoiceField(
        label="Default currency",
        choices=FixedChoices(CURRENCY_CHOICES),
        widget=LongSelect,
        help_text="ISO 4217 code used where none is given.",
    )
    ad_disclosure = forms.CharField(
        label="Sponsored-message disclosure",
        max_length=Tenant._meta.get_field("ad_disclosure").max_length,
        help_text="Shown with every sponsored line, e.g. “#ad”.",
    )
    default_fallback_reply = forms.CharField(
        label="Fallback reply for new bots",
        required=False,
        max_length=Tenant._meta.get_field("default_fallback_reply").max_length,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="What a new bot answers to a command it does not know. May use {name}. Empty: no answer. "
        "Existing bots keep their own.",
    )
    optout_reply = forms.CharField(
        label="Opt-out reply",
        max_length=Tenant._meta.get_field("optout_reply").max_length,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Sent to a member who opts out. May use {name} and {optin} (the opt-in command).",
    )
    optin_reply = forms.CharField(
        label="Opt-in reply",
        max_length=Tenant._meta.get_field("optin_reply").max_length,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Sent to a member who opts back in. May use {name} and {optout} (the opt-out command).",
    )

    @classmethod
    def initial_for(cls, tenant: Tenant) -> dict[str, Any]:
        return {name: str(getattr(tenant, name)) for name in cls.base_fields}


class AcceptWithPasswordForm(forms.Form):
    """A new account for an invited address: the e-mail comes from the invitation, only the password is asked."""

    password1 = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label="Password again", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def __init__(self, *args: Any, email: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.email = email

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        password1, password2 = cleaned.get("password1"), cleaned.get("password2")
        if password1 and password2 and password1 != password2:
            self.add_error("password2", "The two passwords differ.")
        elif password1:
            try:
                validate_password(password1, user=User(email=self.email))
            except forms.ValidationError as exc:
                self.add_error("password1", exc)
        return cleaned
