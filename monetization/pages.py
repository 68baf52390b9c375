"""Dashboard pages of money: links, monetization sources and revenue totals, conversions with their attribution,
the revenue ledger, reconciliation, and sponsored messages.

Views parse the request and render; the services, selectors, `ledger` and `sponsorship` modules of this app
validate, decide and compute. Every page runs and renders in the tenant's time zone.
"""

import base64
import binascii
from dataclasses import dataclass
from datetime import date, datetime
from html import escape
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode
from uuid import UUID

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect
from django.template.response import SimpleTemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.views.generic import TemplateView

from monetization.forms import (
    LOCAL_DATETIME,
    ConversionFilterForm,
    CreativeForm,
    LedgerForm,
    LinkForm,
    PeriodForm,
    SourceForm,
    service_errors_to_form,
)
from monetization.ledger import format_minor_units, period_bounds, reconciliation, revenue_ledger
from monetization.models import Creative, Link, MonetizationSource
from monetization.selectors import (
    ConversionCursor,
    attribution_explained,
    conversion_page,
    link_list_with_stats,
    link_rows,
    revenue_ledger_by_source_kind,
    source_list,
)
from monetization.services import link_create, link_delete, link_update, source_create, source_delete, source_update
from monetization.sponsorship import (
    creative_create,
    creative_delete,
    creative_list,
    creative_update,
    source_list_sponsorship,
    sponsor_performance,
)
from tenants.dashboard import TenantScopedPageMixin, TenantViewMixin
from tenants.models import Tenant

PAGE_SIZE = 50
KIND_HEADINGS = {
    MonetizationSource.Kind.AFFILIATE: "Affiliate programs",
    MonetizationSource.Kind.SPONSORSHIP: "Sponsors",
    MonetizationSource.Kind.SUBSCRIPTION: "Subscriptions",
    MonetizationSource.Kind.DONATION: "Donations",
}


def _money(amount: int, currency: str) -> str:
    try:
        return format_minor_units(amount, currency)
    except ValueError:  # not ISO 4217: show the raw minor units rather than fail the page
        return f"{amount} {currency} (minor units)"


def _query(**params: Any) -> str:
    return urlencode({name: value for name, value in params.items() if value not in (None, "")})


class _TenantTimeMixin:
    """Runs the view, and renders its template, in the tenant's time zone: the dates and times shown, and those
    typed into forms, are the tenant's local ones. (TenantViewMixin resolves `self.tenant` before this runs.)"""

    tenant: Tenant

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        with timezone.override(self.tenant.time_zone):
            response: HttpResponseBase = super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
            if isinstance(response, SimpleTemplateResponse):
                response.render()
        return response


class MoneyPage(TenantViewMixin, _TenantTimeMixin, TemplateView):
    def today(self) -> date:
        return timezone.localdate(timezone=self.tenant.time_zone)

    def page(self, status: int = 200, **context: Any) -> HttpResponse:
        return self.render_to_response(self.get_context_data(**context), status=status)


class MoneyScopedPage(TenantScopedPageMixin, _TenantTimeMixin, TemplateView):
    """A page over one model's rows; `get_queryset()` is guarded to the request's tenant."""

    def today(self) -> date:
        return timezone.localdate(timezone=self.tenant.time_zone)

    def page(self, status: int = 200, **context: Any) -> HttpResponse:
        return self.render_to_response(self.get_context_data(**context), status=status)

    def get_object(self) -> Any:
        return get_object_or_404(self.get_queryset(), pk=self.kwargs["pk"])

    def http_method_not_allowed(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # Another tenant's row is a 404 whatever the method: a GET of a POST-only action must not tell (by its
        # 405) that the id exists elsewhere.
        if "pk" in self.kwargs:
            self.get_object()
        return super().http_method_not_allowed(request, *args, **kwargs)


class _ServiceFormPage:
    """GET shows the form; POST parses it, calls the service, and redirects with a message (PRG), or shows the
    form again with every error inline and status 400, having changed nothing."""

    request: HttpRequest

    def build_form(self, data: Any = None) -> forms.Form:
        raise NotImplementedError

    def perform(self, form: forms.Form) -> HttpResponse:
        """Calls the service; raises its ValidationError."""
        raise NotImplementedError

    if TYPE_CHECKING:  # provided by the page class this is mixed into

        def page(self, status: int = 200, **context: Any) -> HttpResponse: ...

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self.page(form=self.build_form())

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = self.build_form(request.POST)
        if form.is_valid():
            try:
                return self.perform(form)
            except ValidationError as error:
                service_errors_to_form(form, error)
        return self.page(status=400, form=form)


# --- Links -----------------------------------------------------------------------------------------------------------


def _short_url(link: Link) -> str:
    return f"{settings.PUBLIC_BASE_URL}/l/{link.code}"


class LinkListView(MoneyScopedPage):
    template_name = "monetization/links.html"
    nav_section = "links"
    model = Link

    def tenant_queryset(self, *, tenant: Tenant) -> QuerySet[Any]:
        return link_list_with_stats(tenant=tenant)

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        page_obj = Paginator(self.get_queryset(), PAGE_SIZE).get_page(request.GET.get("page"))
        rows = [{"link": link, "short_url": _short_url(link)} for link in page_obj]
        return self.page(page_obj=page_obj, rows=rows)


class LinkCreateView(_ServiceFormPage, MoneyPage):
    template_name = "monetization/link_form.html"
    nav_section = "links"

    def build_form(self, data: Any = None) -> forms.Form:
        return LinkForm(data, tenant=self.tenant)

    def perform(self, form: forms.Form) -> HttpResponse:
        link = link_create(tenant=self.tenant, **form.cleaned_data)
        messages.success(self.request, f"Link created: {_short_url(link)}")
        return redirect("money:links", tenant_slug=self.tenant.slug)


class LinkEditView(_ServiceFormPage, MoneyScopedPage):
    template_name = "monetization/link_form.html"
    nav_section = "links"
    model = Link

    def tenant_queryset(self, *, tenant: Tenant) -> QuerySet[Any]:
        return link_rows(tenant=tenant)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(link=self.link, short_url=_short_url(self.link))
        return context

    def build_form(self, data: Any = None) -> forms.Form:
        self.link: Link = self.get_object()
        initial = {"name": self.link.name, "destination_url": self.link.destination_url,
                   "click_param": self.link.click_param, "source": self.link.source_id}  # fmt: skip
        return LinkForm(data, tenant=self.tenant, initial=initial)

    def perform(self, form: forms.Form) -> HttpResponse:
        link_update(link=self.link, **form.cleaned_data)
        messages.success(self.request, f"Link saved: {_short_url(self.link)}")
        return redirect("money:links", tenant_slug=self.tenant.slug)


class LinkDeleteView(MoneyScopedPage):
    http_method_names = ["post"]
    nav_section = "links"
    model = Link

    def tenant_queryset(self, *, tenant: Tenant) -> QuerySet[Any]:
        return link_rows(tenant=tenant)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        link = self.get_object()
        link_delete(link=link)
        messages.success(request, f"Link deleted: {link}")
        return redirect("money:links", tenant_slug=self.tenant.slug)


# --- Sources and revenue totals --------------------------------------------------------------------------------------


def _money_subnav(view: str, period: dict[str, Any]) -> dict[str, Any]:
    """Context of the Money sub-navigation; the chosen range travels between the sub-pages."""
    return {"money_view": view, "period_query": _query(**period)}


def _period_of(form: PeriodForm) -> dict[str, Any]:
    if not form.is_valid():
        return {}
    return {"since": form.cleaned_data["since"].isoformat(), "until": form.cleaned_data["until"].isoformat()}


def _source_row(source: MonetizationSource) -> dict[str, Any]:
    details = source.details if isinstance(source.details, dict) else {}
    return {"source": source, "details": sorted(details.items()),
            "webhook_url": source.webhook_url if source.webhook_secret else ""}  # fmt: skip


class MoneyIndexView(MoneyScopedPage):
    """Sources by kind with their postback URLs, and net revenue per currency over a range."""

    template_name = "monetization/money.html"
    nav_section = "money"
    model = MonetizationSource

    def tenant_queryset(self, *, tenant: Tenant) -> QuerySet[Any]:
        return source_list(tenant=tenant).order_by("name", "pk")

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        period_form = PeriodForm(request.GET, today=self.today())
        sources = list(self.get_queryset())
        kinds = [
            {"kind": kind, "heading": KIND_HEADINGS[kind],
             "sources": [_source_row(source) for source in sources if source.kind == kind]}
            for kind in MonetizationSource.Kind
        ]  # fmt: skip
        context: dict[str, Any] = {"period_form": period_form, "kinds": kinds, "has_sources": bool(sources),
                                   **_money_subnav("index", _period_of(period_form))}  # fmt: skip
        if not period_form.is_valid():
            return self.page(status=400, **context)
        since, until = period_form.cleaned_data["since"], period_form.cleaned_data["until"]
        totals = [
            {**row, "net_text": _money(row["net"], row["currency"]),
             "refunds_text": _money(row["refunds"], row["currency"])}
            for row in revenue_ledger(tenant=self.tenant, start=since, end=until)
        ]  # fmt: skip
        return self.page(totals=totals, since=since, until=until, **context)


class SourceCreateView(_ServiceFormPage, MoneyPage):
    template_name = "monetization/source_form.html"
    nav_section = "money"

    def build_form(self, data: Any = None) -> forms.Form:
        kind = self.request.GET.get("kind")
        return SourceForm(data, initial={"kind": kind} if kind in MonetizationSource.Kind.values else None)

    def perform(self, form: forms.Form) -> HttpResponse:
        source = source_create(tenant=self.tenant, **form.cleaned_data)
        if source.webhook_secret:
            # The signing secret is shown this once, in this response, like the API's create response: it must
            # not travel through a redirect (a message would put it in a cookie or the session).
            return self.render_to_response(self.get_context_data(created=source))
        messages.success(self.request, f"Source created: {source.name}. Give the source its postback URL below.")
        return redirect("money:index", tenant_slug=self.tenant.slug)


class SourceEditView(_ServiceFormPage, MoneyScopedPage):
    template_name = "monetization/source_form.html"
    nav_section = "money"
    model = MonetizationSource

    def tenant_queryset(self, *, tenant: Tenant) -> QuerySet[Any]:
        return source_list(tenant=tenant)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["source"] = self.source
        return context

    def build_form(self, data: Any = None) -> forms.Form:
        self.source: MonetizationSource = self.get_object()
        initial = {"name": self.source.name, "attribution_window_days": self.source.attribution_window_days,
                   "details": self.source.details, "is_active": self.source.is_active}  # fmt: skip
        return SourceForm(data, editing=True, initial=initial)

    def perform(self, form: forms.Form) -> HttpResponse:
        source_update(source=self.source, **form.cleaned_data)
        messages.success(self.request, f"Source saved: {self.source.name}")
        return redirect("money:index", tenant_slug=self.tenant.slug)


class SourceDeleteView(SourceEditView):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = self.build_form()
        try:
            source_delete(source=self.source)
        except ValidationError as error:  # it has conversions or shown creatives: say so on its page
            return self.page(status=400, form=form, delete_errors=error.messages)
        messages.success(request, f"Source deleted: {self.source.name}")
        return redirect("money:index", tenant_slug=self.tenant.slug)


# --- Conversions -----------------------------------------------------------------------------------------------------


def _cursor_encode(cursor: ConversionCursor) -> str:
    raw = f"{cursor.occurred_at.isoformat()}|{cursor.conversion_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _cursor_decode(value: str) -> ConversionCursor:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        moment, conversion_id = raw.split("|")
        occurred_at = datetime.fromisoformat(moment)
        if occurred_at.tzinfo is None:
            raise ValueError("naive")
        return ConversionCursor(occurred_at=occurred_at, conversion_id=UUID(conversion_id))
    except (binascii.Error, UnicodeDecodeError, ValueError) as error:
        raise ValidationError("Not a page of this list; start again from the first page.") from error


class ConversionListView(MoneyPage):
    """Conversions, newest first (keyset pages), filtered by the shared drill-down parameters."""

    template_name = "monetization/conversions.html"
    nav_section = "money"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        sources = list(source_list(tenant=self.tenant).order_by("name", "pk"))
        form = ConversionFilterForm(request.GET, sources=sources)
        context: dict[str, Any] = {"form": form}
        after = None
        if request.GET.get("after"):
            try:
                after = _cursor_decode(request.GET["after"])
            except ValidationError as error:
                context["cursor_errors"] = error.messages
        valid = form.is_valid()
        filters = {name: request.GET.get(name, "") for name in ("since", "until", "source", "kind")}
        context.update(_money_subnav("conversions", {"since": filters["since"], "until": filters["until"]}))
        if not valid or "cursor_errors" in context:
            return self.page(status=400, **context)
        since, until = form.cleaned_data["since"], form.cleaned_data["until"]
        rows, next_cursor = conversion_page(
            tenant=self.tenant,
            since_at=period_bounds(tenant=self.tenant, start=since, end=since)[0] if since else None,
            until_at=period_bounds(tenant=self.tenant, start=until, end=until)[1] if until else None,
            source_id=UUID(form.cleaned_data["source"]) if form.cleaned_data["source"] else None,
            outcome=form.cleaned_data["kind"],
            after=after,
            limit=PAGE_SIZE,
        )
        context.update(
            rows=[
                {
                    "conversion": conversion,
                    "amount": _money(conversion.amount, conversion.currency),
                    "explanation": attribution_explained(conversion=conversion),
                }
                for conversion in rows
            ],
            filter_query=_query(**filters),
            next_query=_query(**filters, after=_cursor_encode(next_cursor)) if next_cursor else "",
            is_first_page=after is None,
            is_filtered=any(filters.values()),
        )
        return self.page(**context)


# --- The ledger and reconciliation -----------------------------------------------------------------------------------


def _ledger_rows_markup(rows: list[dict[str, Any]], *, grouped: bool) -> SafeString:
    """The ledger table's rows as markup, built here rather than by a template loop: a year by day is ~365 rows,
    which Django's template engine spent ~40 ms on. Every text is escaped. `grouped`: a first column names the
    group (source, day, ...); without one (by currency) the currency links to the conversions."""

    def linked(text: str, href: str) -> str:
        return f'<td><a href="{escape(href)}">{escape(text)}</a></td>' if href else f"<td>{escape(text)}</td>"

    markup = []
    for row in rows:
        if grouped:
            named = linked(row["label"], row["href"]) + linked(row["currency"], "")
        else:
            named = linked(row["currency"], row["href"])
        refunds_count = f' <span class="muted">({row["refunds_count"]})</span>' if row["refunds_count"] else ""
        markup.append(
            f'<tr>{named}<td class="num">{row["conversions"]}</td><td class="num">{escape(row["gross"])}</td>'
            f'<td class="num">{escape(row["refunds"])}{refunds_count}</td>'
            f'<td class="num">{escape(row["net"])}</td></tr>\n'
        )
    return mark_safe("".join(markup))  # noqa: S308 - built from escaped text and integers only


class LedgerView(MoneyPage):
    """Revenue per currency over a range, by source, source kind, day, bot or group (monetization.ledger)."""

    template_name = "monetization/ledger.html"
    nav_section = "money"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = LedgerForm(request.GET, today=self.today())
        context: dict[str, Any] = {"form": form, **_money_subnav("ledger", _period_of(form))}
        if not form.is_valid():
            return self.page(status=400, **context)
        since, until, group_by = (form.cleaned_data[name] for name in ("since", "until", "group_by"))
        period = {"since": since.isoformat(), "until": until.isoformat()}
        ledger: list[Any]
        if group_by == "kind":
            ledger = revenue_ledger_by_source_kind(tenant=self.tenant, start=since, end=until)
        else:
            grouping = [] if group_by == "currency" else [group_by]
            ledger = revenue_ledger(tenant=self.tenant, start=since, end=until, group_by=grouping)
        conversions_url = reverse("money:conversions", kwargs={"tenant_slug": self.tenant.slug})
        rows = []
        net_per_currency: dict[str, int] = {}
        for found in ledger:
            label, query = self._label(group_by, found, period)
            currency = found["currency"]
            rows.append({
                "label": label, "href": f"{conversions_url}?{query}" if query is not None else "",
                "currency": currency, "conversions": found["conversions"], "refunds_count": found["refunds_count"],
                "gross": _money(found["gross"], currency), "refunds": _money(found["refunds"], currency),
                "net": _money(found["net"], currency),
            })  # fmt: skip
            # Every grouping puts each conversion of the range in exactly one row (unattributed ones in a row of
            # their own): the rows add up to the totals, which therefore need no query of their own.
            net_per_currency[currency] = net_per_currency.get(currency, 0) + found["net"]
        totals = [
            {"currency": currency, "net": _money(net, currency)} for currency, net in sorted(net_per_currency.items())
        ]
        group_label = dict(form.fields["group_by"].choices)[group_by]  # type: ignore[attr-defined]
        return self.page(rows=rows, rows_markup=_ledger_rows_markup(rows, grouped=group_by != "currency"),
                         totals=totals, group_by=group_by, group_label=group_label, **context)  # fmt: skip

    def _label(self, group_by: str, row: Any, period: dict[str, str]) -> tuple[str, str | None]:
        """What a ledger row is (its source, kind, day, ...), and the query of the conversions behind it where they
        can be listed (None where they cannot)."""
        if group_by == "source":
            return row["source_name"], _query(**period, source=row["source_id"])
        if group_by == "kind":
            return KIND_HEADINGS.get(row["kind"], row["kind"]), None
        if group_by == "day":
            day = row["day"].isoformat()
            return day, f"since={day}&until={day}"  # an ISO date needs no quoting
        if group_by in ("bot", "group"):
            return row[f"{group_by}_name"] or f"(unnamed {group_by})", None
        return "All sources", _query(**period)


RECONCILIATION_REASONS = {
    "conversion_missing": "Reported, but the conversion is no longer in the ledger.",
    "amount_differs": "Reported with another amount or currency than the ledger holds.",
    "conversion_outside_range": "Reported in this period; the ledger dates the conversion outside it.",
    "receipt_missing": "In the ledger, but no report of it was received.",
    "receipt_outside_range": "In the ledger in this period; its report arrived outside it.",
}


class ReconciliationView(MoneyPage):
    """What sources and payment providers reported (receipts) against the ledger, and every id that differs."""

    template_name = "monetization/reconciliation.html"
    nav_section = "money"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = PeriodForm(request.GET, today=self.today())
        context: dict[str, Any] = {"form": form, **_money_subnav("reconciliation", _period_of(form))}
        if not form.is_valid():
            return self.page(status=400, **context)
        report = reconciliation(tenant=self.tenant, start=form.cleaned_data["since"], end=form.cleaned_data["until"])
        names = {row["source_id"]: row["source_name"] for row in report["rows"]}
        rows = [
            {**row, "received": _money(row["receipts_accepted"]["amount"], row["currency"]),
             "held": _money(row["conversions"]["amount"], row["currency"]),
             "difference_text": _money(row["difference"]["amount"], row["currency"])}
            for row in report["rows"]
        ]  # fmt: skip
        totals = [
            {"currency": currency, "received": _money(total["receipts_accepted"], currency),
             "held": _money(total["conversions"], currency), "difference": _money(total["difference"], currency),
             "ok": total["difference"] == 0}
            for currency, total in report["totals"].items()
        ]  # fmt: skip
        mismatches = [
            {**mismatch, "source_name": names.get(mismatch["source_id"], ""),
             "reason_text": RECONCILIATION_REASONS.get(mismatch["reason"], mismatch["reason"]),
             "received": "" if mismatch["receipt_amount"] is None
             else _money(mismatch["receipt_amount"], mismatch["currency"]),
             "held": "" if mismatch["conversion_amount"] is None
             else _money(mismatch["conversion_amount"], mismatch["currency"])}
            for mismatch in report["mismatches"]
        ]  # fmt: skip
        return self.page(rows=rows, totals=totals, mismatches=mismatches, ok=report["ok"],
                         truncated=report["mismatches_truncated"], **context)  # fmt: skip


# --- Sponsored messages ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreativeStatus:
    label: str
    badge: str  # "ok", "warn", "bad" or "" (app.css badge variants)


def _creative_status(creative: Creative, *, now: datetime) -> CreativeStatus:
    if not creative.is_active:
        return CreativeStatus("Paused", "")
    if not creative.source.is_active:
        return CreativeStatus("Sponsor inactive", "bad")
    if creative.ends_at is not None and creative.ends_at <= now:
        return CreativeStatus("Ended", "")
    if creative.starts_at > now:
        return CreativeStatus("Starts later", "warn")
    return CreativeStatus("Running", "ok")


class SponsoredView(MoneyScopedPage):
    """Creatives with their schedule, groups, caps and status, and each sponsor's performance over a range."""

    template_name = "monetization/sponsored.html"
    nav_section = "sponsored"
    model = Creative

    def tenant_queryset(self, *, tenant: Tenant) -> QuerySet[Any]:
        return creative_list(tenant=tenant).order_by("-created_at", "-id")

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = PeriodForm(request.GET, today=self.today())
        page_obj = Paginator(self.get_queryset(), PAGE_SIZE).get_page(request.GET.get("page"))
        now = timezone.now()
        creatives = [{"creative": creative, "status": _creative_status(creative, now=now)} for creative in page_obj]
        context: dict[str, Any] = {"form": form, "page_obj": page_obj, "creatives": creatives,
                                   "query_string": _query(**_period_of(form))}  # fmt: skip
        if not form.is_valid():
            return self.page(status=400, **context)
        performance = [
            {**sponsor, "ctr_text": f"{sponsor['ctr']:.2%}",
             "revenue_text": ", ".join(_money(net, currency) for currency, net in sorted(sponsor["revenue"].items())),
             "creatives": [{**figures, "ctr_text": f"{figures['ctr']:.2%}"} for figures in sponsor["creatives"]]}
            for sponsor in sponsor_performance(
                tenant=self.tenant, start=form.cleaned_data["since"], end=form.cleaned_data["until"]
            )
        ]  # fmt: skip
        return self.page(performance=performance, **context)


def _creative_fields(form: forms.Form) -> dict[str, Any]:
    fields = dict(form.cleaned_data)
    fields["groups"] = list(fields["groups"])
    return fields


class CreativeCreateView(_ServiceFormPage, MoneyPage):
    template_name = "monetization/creative_form.html"
    nav_section = "sponsored"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["has_sponsors"] = source_list_sponsorship(tenant=self.tenant).exists()
        return context

    def build_form(self, data: Any = None) -> forms.Form:
        now = timezone.localtime().replace(second=0, microsecond=0)
        return CreativeForm(data, tenant=self.tenant, initial={"starts_at": now.strftime(LOCAL_DATETIME)})

    def perform(self, form: forms.Form) -> HttpResponse:
        creative = creative_create(tenant=self.tenant, **_creative_fields(form))
        messages.success(self.request, f"Sponsored message created: {creative}")
        return redirect("money:sponsored", tenant_slug=self.tenant.slug)


class CreativeEditView(_ServiceFormPage, MoneyScopedPage):
    template_name = "monetization/creative_form.html"
    nav_section = "sponsored"
    model = Creative

    def tenant_queryset(self, *, tenant: Tenant) -> QuerySet[Any]:
        return creative_list(tenant=tenant)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(creative=self.creative, has_sponsors=True)
        return context

    def build_form(self, data: Any = None) -> forms.Form:
        self.creative: Creative = self.get_object()
        creative = self.creative
        initial = {
            "source": creative.source_id, "name": creative.name, "text": creative.text, "link": creative.link_id,
            "mode": creative.mode, "post_times": ", ".join(creative.post_times), "starts_at": creative.starts_at,
            "ends_at": creative.ends_at, "daily_cap_per_group": creative.daily_cap_per_group,
            "groups": [group.pk for group in creative.groups.all()], "is_active": creative.is_active,
        }  # fmt: skip
        return CreativeForm(data, tenant=self.tenant, initial=initial)

    def perform(self, form: forms.Form) -> HttpResponse:
        creative_update(creative=self.creative, **_creative_fields(form))
        messages.success(self.request, f"Sponsored message saved: {self.creative}")
        return redirect("money:sponsored", tenant_slug=self.tenant.slug)


class CreativeDeleteView(CreativeEditView):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = self.build_form()
        try:
            creative_delete(creative=self.creative)
        except ValidationError as error:  # it was shown: its report keeps it
            return self.page(status=400, form=form, delete_errors=error.messages)
        messages.success(request, f"Sponsored message deleted: {self.creative}")
        return redirect("money:sponsored", tenant_slug=self.tenant.slug)
