"""Dashboard pages of bots and their rules, the "try a message" preview, creating a bot (through a GroupMe connection
or by hand) and the onboarding checklist. Views are thin: bots.selectors reads, bots.services writes.

htmx makes the rules editor, the preview and onboarding's "waiting for the first message" update in place; every
form is also a plain form that posts and redirects (or re-renders with its errors and a 400), so nothing needs it.
"""

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.generic import ListView, TemplateView

from bots.forms import (
    ApiKeyForm,
    BotSettingsForm,
    GroupMeBotForm,
    GroupMeTokenForm,
    ManualBotForm,
    PreviewForm,
    RuleForm,
    service_errors_add,
)
from bots.models import Bot, Rule
from bots.selectors import (
    PREVIEW_SENDER_NAME,
    ReplyPreview,
    bot_first_message,
    bot_get,
    bot_list,
    bot_list_with_rule_counts,
    groupme_connection_get,
    onboarding_progress,
    reply_preview,
    rule_link_choices,
    rule_list,
)
from bots.services import (
    GroupMeUnavailable,
    bot_breaker_reset,
    bot_create,
    bot_delete,
    bot_update,
    groupme_connection_set,
    groupme_groups,
    rule_create,
    rule_delete,
    rule_update,
)
from groups.services import group_get_or_create
from tenants.dashboard import TenantPageView, TenantScopedPageMixin
from tenants.models import Tenant
from tenants.services import api_key_create

GROUPME_DOWN = "GroupMe did not answer. Nothing was changed; try again in a moment."


def is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def next_url(request: HttpRequest, *, tenant: Tenant) -> str:
    """Where a form asked to go back to (onboarding sends its forms here); only a page of this tenant, else ""."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    safe = url_has_allowed_host_and_scheme(candidate, allowed_hosts={request.get_host()})
    return candidate if safe and candidate.startswith(f"/t/{tenant.slug}/") else ""


def bot_url(bot: Bot, *, tenant: Tenant, anchor: str = "") -> str:
    url = reverse("bots:detail", kwargs={"tenant_slug": tenant.slug, "pk": bot.pk})
    return f"{url}#{anchor}" if anchor else url


def rules_section_context(
    *, tenant: Tenant, bot: Bot, rule_form: RuleForm | None = None, editing: Rule | None = None, notice: str = ""
) -> dict[str, Any]:
    """What bots/_rules.html needs: the bot's rules by priority and the editor (a new rule, or the one edited)."""
    links = rule_link_choices(tenant=tenant)
    if rule_form is None:
        rule_form = RuleForm.for_rule(editing, links=links) if editing else RuleForm(links=links)
    slug = tenant.slug
    action = (
        reverse("bots:rule-edit", kwargs={"tenant_slug": slug, "bot_pk": bot.pk, "pk": editing.pk})
        if editing
        else reverse("bots:rule-create", kwargs={"tenant_slug": slug, "bot_pk": bot.pk})
    )
    return {
        "bot": bot,
        "rules": list(rule_list(tenant=tenant, bot=bot).select_related("link").order_by("priority", "created_at")),
        "rule_form": rule_form,
        "rule_form_action": action,
        "editing": editing,
        "rules_notice": notice,
    }


# --- Bots list -------------------------------------------------------------------------------------------------------


class BotListView(TenantScopedPageMixin, ListView):  # type: ignore[type-arg]
    model = Bot  # type: ignore[misc]  # the scoping mixin's ClassVar meets ListView's attribute
    nav_section = "bots"
    template_name = "bots/bot_list.html"
    context_object_name = "bots"
    paginate_by = 50

    def tenant_queryset(self, *, tenant: Tenant) -> QuerySet[Any]:
        return bot_list_with_rule_counts(tenant=tenant)


# --- One bot ---------------------------------------------------------------------------------------------------------


class BotPage(TenantScopedPageMixin, TemplateView):
    """A page of one of the tenant's (not deleted) bots, `pk` in the URL."""

    model = Bot
    nav_section = "bots"
    bot: Bot

    def tenant_queryset(self, *, tenant: Tenant) -> QuerySet[Any]:
        return bot_list(tenant=tenant)

    def load_bot(self) -> Bot:
        bot: Bot | None = self.get_queryset().filter(pk=self.kwargs["pk"]).first()
        if bot is None:
            raise Http404("No such bot.")
        self.bot = bot
        return bot

    def http_method_not_allowed(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.load_bot()  # another tenant's bot is a 404 whatever the method: its existence is not revealed by a 405
        return super().http_method_not_allowed(request, *args, **kwargs)

    def back_to_bot(self, anchor: str = "") -> HttpResponse:
        return redirect(
            next_url(self.request, tenant=self.tenant) or bot_url(self.bot, tenant=self.tenant, anchor=anchor)
        )


class BotDetailView(BotPage):
    """The bot: callback URL, settings, pause/resume, loop breaker, the rules editor and the preview.

    POST saves the settings form.
    """

    template_name = "bots/bot_detail.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.load_bot()
        preview_form = PreviewForm(request.GET) if "message" in request.GET else PreviewForm()
        status = 400 if preview_form.is_bound and not preview_form.is_valid() else 200
        return self.render_to_response(self.get_context_data(preview_form=preview_form), status=status)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        bot = self.load_bot()
        form = BotSettingsForm(request.POST)
        if form.is_valid():
            try:
                bot_update(bot=bot, **form.cleaned_data)
            except ValidationError as exc:
                service_errors_add(form, exc)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(settings_form=form), status=400)
        messages.success(request, "Settings saved.")
        return self.back_to_bot("settings")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        preview_form: PreviewForm = kwargs.pop("preview_form", None) or PreviewForm()
        settings_form = kwargs.pop("settings_form", None) or BotSettingsForm.for_bot(self.bot)
        context = super().get_context_data(**kwargs)
        preview: ReplyPreview | None = None
        if preview_form.is_bound and preview_form.is_valid():
            preview = reply_preview(tenant=self.tenant, bot=self.bot, text=preview_form.cleaned_data["message"])
        context.update(
            rules_section_context(tenant=self.tenant, bot=self.bot),
            settings_form=settings_form,
            preview_form=preview_form,
            preview=preview,
            preview_sender_name=PREVIEW_SENDER_NAME,
        )
        return context


class BotPreviewView(BotPage):
    """The "try a message" htmx partial with which rule answers and the reply. Reads only, so analysts may use it;
    without htmx the same form lands on the bot page, which shows the result in place."""

    template_name = "bots/_preview.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        bot = self.load_bot()
        if not is_htmx(request):
            url = bot_url(bot, tenant=self.tenant)
            query = request.GET.urlencode()
            return redirect(f"{url}?{query}#try" if query else f"{url}#try")
        form = PreviewForm(request.GET)
        context = {"tenant": self.tenant, "bot": bot, "preview_form": form}
        if not form.is_valid():
            return self.render_to_response(context, status=400)
        preview = reply_preview(tenant=self.tenant, bot=bot, text=form.cleaned_data["message"])
        return self.render_to_response({**context, "preview": preview})


class BotPauseView(BotPage):
    http_method_names = ["post"]
    pause = True

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        bot_update(bot=self.load_bot(), is_active=not self.pause)
        messages.success(
            request, "Paused: the bot keeps counting messages but answers nothing." if self.pause else "Resumed."
        )
        return self.back_to_bot()


class BotBreakerResetView(BotPage):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        bot_breaker_reset(bot=self.load_bot())
        messages.success(request, "Loop breaker closed: the bot answers again.")
        return self.back_to_bot()


class BotDeleteView(BotPage):
    """GET asks for confirmation (works without JavaScript); POST deletes (soft: the history stays)."""

    template_name = "bots/bot_delete.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.load_bot()
        return self.render_to_response(self.get_context_data(bot=self.bot))

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        bot = self.load_bot()
        try:
            bot_delete(bot=bot)
        except GroupMeUnavailable:
            context = self.get_context_data(bot=bot, error=GROUPME_DOWN)
            return self.render_to_response(context, status=503)
        messages.success(request, f"Deleted {bot.name}. Its history stays in your figures.")
        return redirect("bots:list", tenant_slug=self.tenant.slug)


# --- Rules -----------------------------------------------------------------------------------------------------------


class RulePage(TenantScopedPageMixin, TemplateView):
    """Rules of one bot: `bot_pk` in the URL, and `pk` for one rule. Another tenant's bot or rule is a 404."""

    model = Rule
    nav_section = "bots"
    bot: Bot
    template_name = "bots/rule_form.html"

    def tenant_queryset(self, *, tenant: Tenant) -> QuerySet[Any]:
        return rule_list(tenant=tenant, bot=self.bot).select_related("link")

    def load_bot(self) -> Bot:
        bot = bot_get(tenant=self.tenant, bot_id=self.kwargs["bot_pk"])
        if bot is None:
            raise Http404("No such bot.")
        self.bot = bot
        return bot

    def load_rule(self) -> Rule:
        self.load_bot()
        rule: Rule | None = self.get_queryset().filter(pk=self.kwargs["pk"]).first()
        if rule is None:
            raise Http404("No such rule.")
        return rule

    def http_method_not_allowed(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if "pk" in self.kwargs:  # 404 before 405, as for bots
            self.load_rule()
        else:
            self.load_bot()
        return super().http_method_not_allowed(request, *args, **kwargs)

    def rules_response(
        self, *, rule_form: RuleForm | None = None, editing: Rule | None = None, notice: str = "", status: int = 200
    ) -> HttpResponse:
        """The rules section, for htmx to swap in place of the one on the page."""
        context = rules_section_context(
            tenant=self.tenant, bot=self.bot, rule_form=rule_form, editing=editing, notice=notice
        )
        context.update(tenant=self.tenant, can_write=self.membership.can_write)
        return TemplateResponse(self.request, "bots/_rules.html", context, status=status)

    def form_page(self, form: RuleForm, *, rule: Rule | None, status: int = 200) -> HttpResponse:
        """The rule form on a page of its own: the plain-HTML editor, and where a failed plain POST lands."""
        context = self.get_context_data(
            bot=self.bot, editing=rule, rule_form=form, next=next_url(self.request, tenant=self.tenant),
            rule_form_action=self.request.path,
        )  # fmt: skip
        return self.render_to_response(context, status=status)

    def saved(self, message: str) -> HttpResponse:
        if is_htmx(self.request):
            return self.rules_response(notice=message)
        messages.success(self.request, message)
        return redirect(
            next_url(self.request, tenant=self.tenant) or bot_url(self.bot, tenant=self.tenant, anchor="rules")
        )

    def refused(self, form: RuleForm, *, rule: Rule | None) -> HttpResponse:
        if is_htmx(self.request):
            return self.rules_response(rule_form=form, editing=rule, status=400)
        return self.form_page(form, rule=rule, status=400)


class RuleCreateView(RulePage):
    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.load_bot()
        return self.form_page(RuleForm(links=rule_link_choices(tenant=self.tenant)), rule=None)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        bot = self.load_bot()
        form = RuleForm(request.POST, links=rule_link_choices(tenant=self.tenant))
        if form.is_valid():
            try:
                rule = rule_create(bot=bot, **form.cleaned_data)
            except ValidationError as exc:
                service_errors_add(form, exc)
            else:
                return self.saved(f"Rule “{rule.name}” added.")
        return self.refused(form, rule=None)


class RuleEditView(RulePage):
    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        rule = self.load_rule()
        if is_htmx(request):  # the editor of the rules section, switched to this rule
            return self.rules_response(editing=rule)
        return self.form_page(RuleForm.for_rule(rule, links=rule_link_choices(tenant=self.tenant)), rule=rule)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        rule = self.load_rule()
        form = RuleForm(request.POST, links=rule_link_choices(tenant=self.tenant))
        if form.is_valid():
            try:
                rule = rule_update(rule=rule, **form.cleaned_data)
            except ValidationError as exc:
                service_errors_add(form, exc)
            else:
                return self.saved(f"Rule “{rule.name}” saved.")
        return self.refused(form, rule=rule)


class RuleDeleteView(RulePage):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        rule = self.load_rule()
        rule_delete(rule=rule)
        return self.saved(f"Rule “{rule.name}” deleted.")


# --- Creating a bot --------------------------------------------------------------------------------------------------


class BotCreateView(TenantPageView):
    """The two ways to add a bot: connect GroupMe and pick a group, or enter a bot made at dev.groupme.com."""

    nav_section = "bots"
    template_name = "bots/bot_create.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(
            groupme_connected=groupme_connection_get(tenant=self.tenant) is not None,
            token_form=GroupMeTokenForm(),
            manual_form=ManualBotForm(),
        )
        return context


class GroupMeConnectView(TenantPageView):
    """Stores the tenant's GroupMe access token once GroupMe accepts it; then on to picking a group."""

    nav_section = "bots"
    template_name = "bots/groupme_connect.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.setdefault("token_form", GroupMeTokenForm())
        context.update(
            groupme_connected=groupme_connection_get(tenant=self.tenant) is not None,
            next=next_url(self.request, tenant=self.tenant),
        )
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = GroupMeTokenForm(request.POST)
        status = 400
        if form.is_valid():
            try:
                groupme_connection_set(
                    tenant=self.tenant, access_token=form.cleaned_data["access_token"],
                    connected_by=request.user,  # type: ignore[arg-type]  # logged in: TenantViewMixin checked
                )  # fmt: skip
            except ValidationError as exc:
                service_errors_add(form, exc)
            except GroupMeUnavailable:
                form.add_error(None, GROUPME_DOWN)
                status = 503
            else:
                messages.success(request, "GroupMe connected. Pick the group your bot will live in.")
                return redirect(
                    next_url(request, tenant=self.tenant) or reverse("bots:create-groupme", args=[self.tenant.slug])
                )
        return self.render_to_response(self.get_context_data(token_form=form), status=status)


def groupme_bot_form(*, tenant: Tenant, data: Any = None) -> GroupMeBotForm:
    """The form to pick one of the connected account's groups (groups that already have a bot say so).

    Raises ValidationError (no token, or GroupMe refused it) and GroupMeUnavailable, as groupme_groups does.
    """
    groups = groupme_groups(tenant=tenant)
    taken = set(bot_list(tenant=tenant).values_list("group__groupme_group_id", flat=True))
    return GroupMeBotForm(data, groups=groups, taken=taken)


class GroupMeBotCreateView(TenantPageView):
    """Pick one of the connected GroupMe account's groups; Botyard creates the bot there with its callback URL."""

    nav_section = "bots"
    template_name = "bots/groupme_bot_create.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self.form_response(data=None)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self.form_response(data=request.POST)

    def form_response(self, *, data: Any) -> HttpResponse:
        request = self.request
        try:
            form = groupme_bot_form(tenant=self.tenant, data=data)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            connect = reverse("bots:connect", kwargs={"tenant_slug": self.tenant.slug})
            back = next_url(request, tenant=self.tenant)
            return redirect(f"{connect}?{urlencode({'next': back})}" if back else connect)
        except GroupMeUnavailable:
            return self.render_to_response(self.get_context_data(form=None, error=GROUPME_DOWN), status=503)
        if data is None:
            return self.render_to_response(self.get_context_data(form=form))
        status = 400
        if form.is_valid():
            try:
                bot = bot_create(
                    tenant=self.tenant, name=form.cleaned_data["name"],
                    groupme_group_id=form.cleaned_data["groupme_group_id"],
                )  # fmt: skip
            except ValidationError as exc:
                service_errors_add(form, exc)
            except GroupMeUnavailable:
                form.add_error(None, GROUPME_DOWN)
                status = 503
            else:
                # GroupMe knows the group's name; Botyard's group row is created by bot_create with its id only.
                group_get_or_create(
                    tenant=self.tenant, groupme_group_id=bot.group.groupme_group_id, name=form.group_name
                )
                messages.success(request, f"Created {bot.name} at GroupMe. It is listening to the group now.")
                return redirect(next_url(request, tenant=self.tenant) or bot_url(bot, tenant=self.tenant))
        return self.render_to_response(self.get_context_data(form=form), status=status)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["next"] = next_url(self.request, tenant=self.tenant)
        return context


class ManualBotCreateView(TenantPageView):
    """A bot made by hand at dev.groupme.com: its ids here, then Botyard's callback URL pasted there."""

    nav_section = "bots"
    template_name = "bots/manual_bot_create.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.setdefault("form", ManualBotForm())
        context["next"] = next_url(self.request, tenant=self.tenant)
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = ManualBotForm(request.POST)
        if form.is_valid():
            try:
                bot = bot_create(tenant=self.tenant, **form.cleaned_data)
            except ValidationError as exc:
                service_errors_add(form, exc)
            else:
                messages.success(
                    request,
                    f"Added {bot.name}. Now paste its callback URL into the bot's settings at dev.groupme.com/bots.",
                )
                return redirect(next_url(request, tenant=self.tenant) or bot_url(bot, tenant=self.tenant))
        return self.render_to_response(self.get_context_data(form=form), status=400)


# --- Onboarding ------------------------------------------------------------------------------------------------------


class OnboardingView(TenantPageView):
    """The checklist for a new tenant. Each step's state comes from the database, so it can be left and resumed."""

    nav_section = "bots"
    template_name = "bots/onboarding.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        progress = onboarding_progress(tenant=self.tenant)
        here = reverse("bots:onboarding", kwargs={"tenant_slug": self.tenant.slug})
        context.update(progress=progress, next=here, public_base_url=settings.PUBLIC_BASE_URL)
        context.setdefault("api_key_form", ApiKeyForm())
        if progress.bot is None:
            context.update(self._step_one_context(connected=progress.groupme_connected))
        else:
            preview_form = PreviewForm(self.request.GET) if "message" in self.request.GET else PreviewForm()
            preview = None
            if preview_form.is_bound and preview_form.is_valid():
                preview = reply_preview(tenant=self.tenant, bot=progress.bot, text=preview_form.cleaned_data["message"])
            context.update(
                bot=progress.bot,
                rule_form=RuleForm(links=rule_link_choices(tenant=self.tenant)),
                rule_form_action=reverse(
                    "bots:rule-create", kwargs={"tenant_slug": self.tenant.slug, "bot_pk": progress.bot.pk}
                ),
                preview_form=preview_form,
                preview=preview,
                preview_sender_name=PREVIEW_SENDER_NAME,
            )
        return context

    def _step_one_context(self, *, connected: bool) -> dict[str, Any]:
        step: dict[str, Any] = {"token_form": GroupMeTokenForm(), "manual_form": ManualBotForm()}
        if connected:
            try:
                step["groupme_form"] = groupme_bot_form(tenant=self.tenant)
            except ValidationError as exc:
                step["groupme_error"] = " ".join(exc.messages)
            except GroupMeUnavailable:
                step["groupme_error"] = GROUPME_DOWN
        return step


class OnboardingFirstMessageView(TenantPageView):
    """Step 2 on its own, polled by htmx every few seconds until the first message is there (then it stops).

    While htmx polls and nothing has arrived the answer is a 204, which htmx does not swap: the page stays as it is
    (screen readers hear nothing every two seconds) until the step changes.
    """

    nav_section = "bots"
    template_name = "bots/_onboarding_first_message.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        first_message = bot_first_message(tenant=self.tenant)
        if first_message is None and is_htmx(request):
            return HttpResponse(status=204)
        bot = bot_list(tenant=self.tenant).order_by("created_at", "id").first()
        return self.render_to_response(self.get_context_data(bot=bot, first_message=first_message))


class OnboardingApiKeyView(OnboardingView):
    """Step 4: a key, shown once on the page that answers this POST (it is never stored in the clear)."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = ApiKeyForm(request.POST)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(api_key_form=form), status=400)
        issued = api_key_create(
            tenant=self.tenant,
            name=form.cleaned_data["name"],
            created_by=request.user,  # type: ignore[arg-type]
        )
        return self.render_to_response(self.get_context_data(issued_key=issued, api_key_form=ApiKeyForm()))
