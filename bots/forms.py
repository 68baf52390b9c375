"""Forms of the bots pages. They shape and bound the input; bots.services decides what is valid for a bot or rule,
and its ValidationErrors are put back on the form (`service_errors_add`) so they show next to the field."""

from collections.abc import Collection, Sequence
from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db.models import QuerySet

from bots.groupme import GroupMeGroup
from bots.models import Bot, Rule
from monetization.models import Link

# Django's IntegerField bounds, so an absurd priority is a form error rather than a database error.
PRIORITY_LIMIT = 2_147_483_647


def service_errors_add(form: forms.Form, error: ValidationError) -> None:
    """A service's ValidationError on the form: per field where the form has that field, else for the form."""
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields and field != NON_FIELD_ERRORS else None, errors)
    else:
        form.add_error(None, error)


class PageForm(forms.Form):
    """Several of these forms share a page (onboarding has five): each form's element ids get their own prefix."""

    id_prefix = "id"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", f"{self.id_prefix}_%s")
        super().__init__(*args, **kwargs)


class GroupMeTokenForm(PageForm):
    id_prefix = "token"
    access_token = forms.CharField(
        label="GroupMe access token",
        max_length=255,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
        help_text="At dev.groupme.com, log in and click “Access Token”. It is stored encrypted.",
    )


class GroupMeBotForm(PageForm):
    """A bot Botyard creates at GroupMe in one of the connected account's groups."""

    id_prefix = "groupme"

    name = forms.CharField(label="Bot name", max_length=100, initial="Botyard", help_text="Shown in the group.")
    groupme_group_id = forms.ChoiceField(label="Group", widget=forms.RadioSelect)

    def __init__(self, *args: Any, groups: Sequence[GroupMeGroup], taken: Collection[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.group_names = {group.group_id: group.name for group in groups}
        choices = []
        for group in groups:
            members = f"{group.member_count} member{'' if group.member_count == 1 else 's'}"
            already = " · already has a bot" if group.group_id in taken else ""
            choices.append((group.group_id, f"{group.name or group.group_id} · {members}{already}"))
        self.fields["groupme_group_id"].choices = choices  # type: ignore[attr-defined]

    @property
    def group_name(self) -> str:
        return self.group_names.get(self.cleaned_data["groupme_group_id"], "")


class ManualBotForm(PageForm):
    """A bot created by hand at dev.groupme.com; Botyard only needs its ids."""

    id_prefix = "manual"

    name = forms.CharField(label="Bot name", max_length=100)
    groupme_group_id = forms.CharField(
        label="GroupMe group id", max_length=64, help_text="The number in the group's URL at web.groupme.com."
    )
    groupme_bot_id = forms.CharField(
        label="GroupMe bot id", max_length=64, help_text="Shown next to the bot at dev.groupme.com/bots."
    )


class BotSettingsForm(PageForm):
    id_prefix = "bot"

    name = forms.CharField(label="Name", max_length=Bot._meta.get_field("name").max_length)
    command_prefix = forms.CharField(
        label="Command prefix", max_length=8, help_text="Commands start with it, e.g. ! for !help.", strip=False
    )
    fallback_text = forms.CharField(
        label="Fallback reply",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Sent for a command no rule knows; {name} is the sender's name. Empty: no reply.",
    )
    optout_command = forms.CharField(label="Opt-out command", max_length=32, help_text="One word, without the prefix.")
    optin_command = forms.CharField(label="Opt-in command", max_length=32, help_text="One word, without the prefix.")

    @classmethod
    def for_bot(cls, bot: Bot) -> "BotSettingsForm":
        return cls(initial={name: getattr(bot, name) for name in cls.base_fields})


class RuleForm(PageForm):
    id_prefix = "rule"

    name = forms.CharField(label="Name", max_length=100)
    kind = forms.ChoiceField(label="Kind", choices=Rule.Kind.choices)
    pattern = forms.CharField(
        label="Pattern",
        max_length=500,
        help_text="Command: one word (the prefix is added). Keyword: a word or phrase. Regex: RE2 syntax.",
    )
    response = forms.CharField(
        label="Reply",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="{name}: the sender's name; {link}: the rule's link, a short URL unique to each interaction.",
    )
    intent = forms.CharField(label="Intent", max_length=64, required=False, help_text="A label for analytics.")
    priority = forms.IntegerField(
        label="Priority",
        initial=100,
        min_value=-PRIORITY_LIMIT,
        max_value=PRIORITY_LIMIT,
        help_text="Lower runs first.",
    )
    link = forms.ModelChoiceField(
        label="Link", queryset=Link.objects.none(), required=False, empty_label="No link",
        help_text="What {link} in the reply points to.",
    )  # fmt: skip
    is_active = forms.BooleanField(label="Active", required=False, initial=True)

    def __init__(self, *args: Any, links: QuerySet[Link], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["link"].queryset = links  # type: ignore[attr-defined]

    @classmethod
    def for_rule(cls, rule: Rule, *, links: QuerySet[Link]) -> "RuleForm":
        initial = {name: getattr(rule, name) for name in cls.base_fields if name != "link"}
        initial["link"] = rule.link_id
        return cls(initial=initial, links=links)


class PreviewForm(PageForm):
    id_prefix = "try"

    message = forms.CharField(
        label="Message", max_length=1000, help_text="As a member would write it in the group, e.g. !help."
    )


class ApiKeyForm(PageForm):
    id_prefix = "key"

    name = forms.CharField(label="Key name", max_length=100, initial="My first key")
