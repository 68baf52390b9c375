"""Dashboard pages of interactions: a filtered, keyset-paged list and one interaction with its reply and outcome."""

from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.views.generic import DetailView, TemplateView

from analytics.services import day_bounds
from bots.interaction_selectors import (
    InteractionCursor,
    InteractionFilters,
    interaction_detail_queryset,
    interaction_filter_bots,
    interaction_keyset_page,
    interaction_outcome,
    interaction_response_times,
    interactions_filtered,
)
from bots.models import Interaction
from groups.models import Member
from groups.selectors import group_list, member_get
from monetization.currencies import MINOR_UNIT_EXPONENTS
from tenants.api.dates import ReportDateFormField
from tenants.dashboard import TenantScopedPageMixin
from tenants.models import Tenant

BUILT_IN_INTENTS = {"optout": "the built-in opt-out command", "optin": "the built-in opt-in command"}


def _date_field(label: str) -> forms.DateField:
    return ReportDateFormField(label=label)


class InteractionFilterForm(forms.Form):
    """The list's query string, with the drill-down names other pages link with. Every field is optional; a value
    that is present but wrong is an error (the page answers 400), never silently ignored."""

    bot = forms.TypedChoiceField(
        label="Bot", required=False, coerce=UUID, empty_value=None,
        error_messages={"invalid_choice": "No such bot here."},
    )  # fmt: skip
    group = forms.TypedChoiceField(
        label="Group", required=False, coerce=UUID, empty_value=None,
        error_messages={"invalid_choice": "No such group here."},
    )  # fmt: skip
    intent = forms.CharField(label="Intent", required=False, max_length=64)
    since = _date_field("From (inclusive)")
    until = _date_field("To (inclusive)")
    handled = forms.ChoiceField(
        label="Handled",
        required=False,
        choices=[("", "Any"), ("true", "Handled"), ("false", "Unhandled")],
        error_messages={"invalid_choice": "Handled is true or false."},
    )
    reply_status = forms.ChoiceField(
        label="Reply",
        required=False,
        choices=[("", "Any"), *Interaction.ReplyStatus.choices],
        error_messages={"invalid_choice": f"Reply status is one of: {', '.join(Interaction.ReplyStatus.values)}."},
    )
    member = forms.CharField(label="Member", required=False, widget=forms.HiddenInput)
    before = forms.CharField(label="Page", required=False, widget=forms.HiddenInput)

    def __init__(self, data: Any, *, tenant: Tenant) -> None:
        super().__init__(data)
        self.tenant = tenant
        bots = interaction_filter_bots(tenant=tenant)
        bot_choices = [(str(bot.pk), f"{bot.name} (deleted)" if bot.deleted_at else bot.name) for bot in bots]
        self.fields["bot"].choices = [("", "All bots"), *bot_choices]  # type: ignore[attr-defined]
        group_choices = [(str(group.pk), str(group)) for group in group_list(tenant=tenant).order_by("name", "id")]
        self.fields["group"].choices = [("", "All groups"), *group_choices]  # type: ignore[attr-defined]
        self.selected_member: Member | None = None

    def clean_member(self) -> Member | None:
        member_id = self.cleaned_data["member"]
        if not member_id:
            return None
        self.selected_member = member_get(tenant=self.tenant, member_id=member_id)
        if self.selected_member is None:
            raise ValidationError("No such member here.")
        return self.selected_member

    def clean_before(self) -> InteractionCursor | None:
        token = self.cleaned_data["before"]
        if not token:
            return None
        try:
            return InteractionCursor.decode(token)
        except ValueError:
            raise ValidationError("This page link is broken: start again from the newest interactions.") from None

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and until < since:
            self.add_error("until", "The end date is before the start date.")
        return cleaned

    def filters(self) -> InteractionFilters:
        """The valid form as selector filters; dates become instants cut in the tenant's time zone."""
        data = self.cleaned_data
        since: date | None = data["since"]
        until: date | None = data["until"]
        zone = self.tenant.time_zone
        member: Member | None = data["member"]
        return InteractionFilters(
            bot_id=data["bot"],
            group_id=data["group"],
            member_id=member.pk if member else None,
            intent=data["intent"].strip(),
            since=day_bounds(day=since, zone=zone)[0] if since else None,
            until=day_bounds(day=until, zone=zone)[1] if until else None,
            handled={"true": True, "false": False}.get(data["handled"]),
            reply_status=data["reply_status"],
        )


class InteractionListPage(TenantScopedPageMixin, TemplateView):
    model = Interaction
    nav_section = "interactions"
    template_name = "bots/interactions/interaction_list.html"
    filters: InteractionFilters

    def tenant_queryset(self, *, tenant: Tenant) -> QuerySet[Any]:
        return interactions_filtered(tenant=tenant, filters=self.filters)

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = InteractionFilterForm(request.GET, tenant=self.tenant)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(form=form), status=400)
        self.filters = form.filters()
        before: InteractionCursor | None = form.cleaned_data["before"]
        page = interaction_keyset_page(self.get_queryset(), before=before)
        query = request.GET.copy()
        query.pop("before", None)
        newest_query = query.urlencode()
        older_query = ""
        if page.older is not None:
            query["before"] = page.older.encode()
            older_query = query.urlencode()
        filtered = any(form.cleaned_data[name] not in (None, "") for name in form.fields if name != "before")
        context = self.get_context_data(
            form=form, interactions=page.interactions, member=form.selected_member, is_first_page=before is None,
            newest_query=newest_query, older_query=older_query, filtered=filtered,
        )  # fmt: skip
        return self.render_to_response(context)


def money_display(amount: int, currency: str) -> str:
    """Minor units as a figure with the currency's decimals: 1999 USD -> "19.99 USD", 500 JPY -> "500 JPY"."""
    exponent = MINOR_UNIT_EXPONENTS.get(currency, 2)
    return f"{Decimal(amount).scaleb(-exponent):.{exponent}f} {currency}"


def how_it_matched(interaction: Interaction) -> dict[str, str]:
    """What decided this interaction's reply, in words (the template links the rule)."""
    if interaction.rule is not None:
        return {"kind": "rule"}
    if interaction.intent in BUILT_IN_INTENTS:
        return {"kind": "built-in", "text": f"No rule: {BUILT_IN_INTENTS[interaction.intent]}."}
    if interaction.handled:
        return {"kind": "deleted", "text": "A rule that has since been deleted."}
    if interaction.reply_text:
        return {"kind": "fallback", "text": "No rule matched: the bot answered with its fallback reply."}
    return {"kind": "none", "text": "No rule matched, and the bot has no fallback reply."}


class InteractionDetailPage(TenantScopedPageMixin, DetailView):  # type: ignore[type-arg]
    model = Interaction  # type: ignore[misc]  # the scoping mixin's ClassVar meets DetailView's attribute
    nav_section = "interactions"
    template_name = "bots/interactions/interaction_detail.html"
    context_object_name = "interaction"

    def tenant_queryset(self, *, tenant: Tenant) -> QuerySet[Any]:
        return interaction_detail_queryset(tenant=tenant)

    def http_method_not_allowed(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # A read-only page: another tenant's object is still a 404 for every method, before a 405 could hint at it.
        self.get_object()
        return super().http_method_not_allowed(request, *args, **kwargs)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        interaction: Interaction = self.object
        outcome = interaction_outcome(tenant=self.tenant, interaction=interaction)
        context.update(
            match=how_it_matched(interaction),
            reply_parts=list(interaction.reply_parts.all()),
            timing=interaction_response_times(interaction=interaction),
            links=outcome.links,
            conversions=[(conversion, money_display(conversion.amount, conversion.currency))
                         for conversion in outcome.conversions],
            more_conversions=outcome.more_conversions,
        )  # fmt: skip
        return context
