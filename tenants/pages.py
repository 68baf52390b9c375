"""Dashboard pages for API keys, the team and the tenant's settings, and the public page that accepts an invitation.

Writes are POSTs that call tenants.services. A refused action re-renders its page with the reason and a 400; a rule
about who may do what (only owners manage owners) is a 403.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.http import urlencode
from django.views.generic import TemplateView

from tenants.dashboard import TenantPageView, TenantScopedPageMixin
from tenants.forms import (
    AcceptWithPasswordForm,
    ApiKeyCreateForm,
    InvitationForm,
    MemberRoleForm,
    TenantSettingsForm,
    role_choices_for,
)
from tenants.models import ApiKey, Invitation, Membership, Role, TenantOwnedModel, User
from tenants.selectors import (
    api_key_list,
    api_key_rows,
    api_key_warnings,
    invitation_get_by_token,
    invitation_list_pending,
    membership_list,
    user_get_by_email,
)
from tenants.services import (
    InvitationUnavailable,
    IssuedApiKey,
    api_key_create,
    api_key_revoke,
    api_key_rotate,
    invitation_accept,
    invitation_accept_as_new_user,
    invitation_cancel,
    invitation_create,
    invitation_resend,
    membership_remove,
    membership_role_change,
    tenant_settings_update,
)

PAGE_SIZE = 50


class TenantObjectActionMixin(TenantScopedPageMixin):
    """A POST-only action on one of the tenant's rows, named by the URL's `pk` and found through the scoped queryset.

    Another tenant's row is a 404 whatever the method, so a GET cannot tell which ids exist elsewhere; only then does
    a GET get its 405.
    """

    http_method_names: Sequence[str] = ["post"]
    kwargs: dict[str, Any]

    def get_object(self) -> Any:
        found = self.get_queryset().filter(pk=self.kwargs["pk"]).first()
        if found is None:
            raise Http404("No such row in this tenant.")
        return found

    def http_method_not_allowed(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.get_object()
        return super().http_method_not_allowed(request, *args, **kwargs)  # type: ignore[misc,no-any-return]


def _refusal(exc: ValidationError) -> str:
    return " ".join(exc.messages)


# --- API keys ---------------------------------------------------------------------------------------------------------


class ApiKeysView(TenantScopedPageMixin, TemplateView):
    """`api-keys/`: every key with what needs attention (GET); a new key (POST), whose secret is shown once."""

    model = ApiKey
    nav_section = "api-keys"
    template_name = "tenants/api_keys.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        now = timezone.now()
        keys = api_key_list(tenant=self.tenant).select_related("replaced_by").order_by("-created_at", "-pk")
        page_obj = Paginator(keys, PAGE_SIZE).get_page(self.request.GET.get("page"))
        context.setdefault("create_form", ApiKeyCreateForm())
        context.update(
            page_obj=page_obj,
            key_rows=api_key_rows(api_keys=page_obj.object_list, now=now),
            warnings=api_key_warnings(tenant=self.tenant, now=now),
            notice_days=settings.API_KEY_EXPIRY_NOTICE_DAYS,
            max_age_days=settings.API_KEY_MAX_AGE_DAYS,
            grace_hours=settings.API_KEY_ROTATION_GRACE_HOURS,
        )
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = ApiKeyCreateForm(request.POST)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(create_form=form), status=400)
        issued = api_key_create(tenant=self.tenant, name=form.cleaned_data["name"], created_by=request.user)  # type: ignore[arg-type]
        return self.render_issued(issued)

    def render_refusal(self, exc: ValidationError) -> HttpResponse:
        return self.render_to_response(self.get_context_data(action_error=_refusal(exc)), status=400)

    def render_issued(self, issued: IssuedApiKey, *, rolled: ApiKey | None = None) -> HttpResponse:
        """The one response that carries the secret: rendered here, never stored, never cached, never redirected to."""
        # The layout's context only: super() here is ApiKeysView's parent, so the key list is not built for nothing.
        context = super().get_context_data(
            issued=issued,
            rolled=rolled,
            api_url=settings.PUBLIC_BASE_URL + "/api/v1/bots/",
        )
        response = TemplateResponse(self.request, "tenants/api_key_issued.html", context)
        add_never_cache_headers(response)
        return response


class ApiKeyRollView(TenantObjectActionMixin, ApiKeysView):
    """`api-keys/<pk>/roll/`: a new key at once; the old one keeps working for the grace period."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        api_key: ApiKey = self.get_object()
        try:
            issued = api_key_rotate(api_key=api_key, rotated_by=request.user)  # type: ignore[arg-type]
        except ValidationError as exc:
            return self.render_refusal(exc)
        api_key.refresh_from_db()
        return self.render_issued(issued, rolled=api_key)


class ApiKeyRevokeView(TenantObjectActionMixin, ApiKeysView):
    """`api-keys/<pk>/revoke/`: dead at once (the page asks first)."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        api_key = api_key_revoke(api_key=self.get_object())
        messages.success(request, f"Revoked “{api_key.name}” ({api_key.prefix}…). Requests with it now get 401.")
        return redirect("manage:api-keys", tenant_slug=self.tenant.slug)


# --- Team -------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MemberRow:
    membership: Membership
    is_you: bool
    can_manage: bool  # whether the viewer may change this member's role or remove them


@dataclass(frozen=True)
class InvitationRow:
    invitation: Invitation
    is_expired: bool
    can_manage: bool


class TeamView(TenantScopedPageMixin, TemplateView):
    """`team/`: members and their roles, pending invitations, and the invitation form."""

    model: ClassVar[type[TenantOwnedModel]] = Membership
    nav_section = "team"
    template_name = "tenants/team.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        actor, now = self.membership, timezone.now()
        page_obj = Paginator(membership_list(tenant=self.tenant), PAGE_SIZE).get_page(self.request.GET.get("page"))
        context.setdefault("invite_form", InvitationForm(actor=actor))
        context.update(
            page_obj=page_obj,
            member_rows=[
                MemberRow(membership=member, is_you=member.pk == actor.pk, can_manage=actor.can_manage(member.role))
                for member in page_obj.object_list
            ],
            invitation_rows=[
                InvitationRow(
                    invitation=invitation,
                    is_expired=invitation.status_at(now) == Invitation.Status.EXPIRED,
                    can_manage=actor.can_manage(invitation.role),
                )
                for invitation in invitation_list_pending(tenant=self.tenant)
            ],
            role_choices=role_choices_for(actor),
        )
        return context

    def render_refusal(self, exc: ValidationError) -> HttpResponse:
        return self.render_to_response(self.get_context_data(action_error=_refusal(exc)), status=400)

    def back_to_team(self) -> HttpResponse:
        return redirect("manage:team", tenant_slug=self.tenant.slug)


class TeamInviteView(TeamView):
    """`team/invitations/`: invite an e-mail address with a role; the link goes out by e-mail."""

    http_method_names: Sequence[str] = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = InvitationForm(request.POST, actor=self.membership)
        if form.is_valid():
            try:
                invitation = invitation_create(
                    tenant=self.tenant,
                    email=form.cleaned_data["email"],
                    role=form.cleaned_data["role"],
                    invited_by=self.membership,
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, f"Invitation sent to {invitation.email}. The link works for 7 days.")
                return self.back_to_team()
        return self.render_to_response(self.get_context_data(invite_form=form), status=400)


class InvitationResendView(TenantObjectActionMixin, TeamView):
    """`team/invitations/<pk>/resend/`: a new link, valid for another 7 days; the old link stops working."""

    model = Invitation

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            invitation = invitation_resend(invitation=self.get_object(), actor=self.membership)
        except ValidationError as exc:
            return self.render_refusal(exc)
        messages.success(request, f"Invitation sent again to {invitation.email}.")
        return self.back_to_team()


class InvitationCancelView(TenantObjectActionMixin, TeamView):
    """`team/invitations/<pk>/cancel/`: the link stops working."""

    model = Invitation

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            invitation = invitation_cancel(invitation=self.get_object(), actor=self.membership)
        except ValidationError as exc:
            return self.render_refusal(exc)
        messages.success(request, f"Invitation to {invitation.email} cancelled.")
        return self.back_to_team()


class MemberRoleView(TenantObjectActionMixin, TeamView):
    """`team/members/<pk>/role/`: another role for a member (never leaving the team without an owner)."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        member: Membership = self.get_object()
        form = MemberRoleForm(request.POST)
        if not form.is_valid():
            return self.render_refusal(ValidationError("Choose one of the roles."))
        try:
            changed = membership_role_change(membership=member, role=form.cleaned_data["role"], actor=self.membership)
        except ValidationError as exc:
            return self.render_refusal(exc)
        messages.success(request, f"{changed.user.email} is now {Role(changed.role).label.lower()}.")
        return self.back_to_team()


class MemberRemoveView(TenantObjectActionMixin, TeamView):
    """`team/members/<pk>/remove/`: takes someone off the team (yourself included, unless you are the last owner)."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        member: Membership = self.get_object()
        try:
            membership_remove(membership=member, actor=self.membership)
        except ValidationError as exc:
            return self.render_refusal(exc)
        if member.pk == self.membership.pk:
            messages.success(request, f"You left {self.tenant.name}.")
            return redirect("home")
        messages.success(request, f"{member.user.email} was removed from the team.")
        return self.back_to_team()


# --- Settings ---------------------------------------------------------------------------------------------------------


class TenantSettingsView(TenantPageView):
    """`settings/`: name, time zone, currency and the wording bots use. Owners and admins change them."""

    nav_section = "settings"
    template_name = "tenants/settings.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        if "form" not in context:
            context["form"] = TenantSettingsForm(initial=TenantSettingsForm.initial_for(self.tenant))
        if not self.membership.can_write:
            for field in context["form"].fields.values():
                field.disabled = True
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = TenantSettingsForm(request.POST)
        if form.is_valid():
            try:
                change = tenant_settings_update(tenant=self.tenant, **form.cleaned_data)
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                note = " Figures are being recomputed in the new time zone." if change.time_zone_changed else ""
                messages.success(request, f"Settings saved.{note}")
                return redirect("manage:settings", tenant_slug=self.tenant.slug)
        return self.render_to_response(self.get_context_data(form=form), status=400)


# --- Accepting an invitation (public: the link comes by e-mail) -------------------------------------------------------


class InvitationAcceptView(TemplateView):
    """`/invitations/<token>/`. Who opens the link decides what it offers:

    the invited person, logged in: a button that joins the team; someone with no account yet: a password form that
    creates the account and joins; an invited person with an account, logged out: log in first; anyone else logged
    in: this is not yours, log out. A cancelled, expired or used link says so (410); an unknown one is a 404.
    """

    template_name = "tenants/invitation.html"
    invitation: Invitation | None

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        self.invitation = invitation_get_by_token(token=kwargs["token"])
        return super().dispatch(request, *args, **kwargs)

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self.answer()

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        invitation = self.invitation
        if invitation is None or invitation.status_at(timezone.now()) != Invitation.Status.PENDING:
            return self.answer()
        user = request.user
        if user.is_authenticated:
            if user.email.lower() != invitation.email:
                return self.answer()
            return self.accept(user)
        if user_get_by_email(email=invitation.email) is not None:
            return redirect(self.login_url())
        form = AcceptWithPasswordForm(request.POST, email=invitation.email)
        if form.is_valid():
            try:
                membership = invitation_accept_as_new_user(
                    invitation=invitation, password=form.cleaned_data["password1"]
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            except InvitationUnavailable as exc:
                return self.render("unavailable", status=410, reason=str(exc))
            else:
                login(request, membership.user, backend=settings.AUTHENTICATION_BACKENDS[0])
                return self.joined(membership)
        return self.render("set_password", status=400, form=form)

    def answer(self) -> HttpResponse:
        """The page for whoever opened the link, without changing anything."""
        invitation, user = self.invitation, self.request.user
        if invitation is None:
            return self.render("invalid", status=404)
        status = invitation.status_at(timezone.now())
        accepted_by_you = (
            status == Invitation.Status.ACCEPTED and user.is_authenticated and invitation.accepted_by_id == user.pk
        )
        if accepted_by_you and Membership.objects.for_tenant(invitation.tenant).filter(user=user).exists():
            # Accepting is idempotent: the link keeps leading its user to the team they joined.
            return redirect("tenants:home", tenant_slug=invitation.tenant.slug)
        if status != Invitation.Status.PENDING:
            reasons = {
                Invitation.Status.ACCEPTED: "This invitation has already been used.",
                Invitation.Status.CANCELLED: "This invitation was cancelled.",
                Invitation.Status.EXPIRED: "This invitation has expired.",
            }
            return self.render("unavailable", status=410, reason=reasons[Invitation.Status(status)])
        if user.is_authenticated:
            if user.email.lower() != invitation.email:
                return self.render("wrong_user", status=403)
            return self.render("confirm")
        if user_get_by_email(email=invitation.email) is not None:
            return self.render("login", login_url=self.login_url())
        return self.render("set_password", form=AcceptWithPasswordForm(email=invitation.email))

    def accept(self, user: User) -> HttpResponse:
        assert self.invitation is not None
        try:
            membership = invitation_accept(invitation=self.invitation, user=user)
        except InvitationUnavailable as exc:
            return self.render("unavailable", status=410, reason=str(exc))
        return self.joined(membership)

    def joined(self, membership: Membership) -> HttpResponse:
        role = Role(membership.role).label.lower()
        messages.success(self.request, f"Welcome to {membership.tenant.name}! You joined as {role}.")
        return redirect("tenants:home", tenant_slug=membership.tenant.slug)

    def login_url(self) -> str:
        return f"{reverse('login')}?{urlencode({'next': self.request.path})}"

    def render(self, state: str, *, status: int = 200, **context: Any) -> HttpResponse:
        context.update(state=state, invitation=self.invitation)
        if self.invitation is not None:
            context.update(tenant=self.invitation.tenant, role=Role(self.invitation.role).label)
        response = self.render_to_response(self.get_context_data(**context), status=status)
        add_never_cache_headers(response)
        return response
