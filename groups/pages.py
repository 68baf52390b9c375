"""Dashboard pages of groups and their members (read-only: GroupMe is where membership changes)."""

from typing import Any

from django import forms
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.views.generic import DetailView, ListView

from groups.models import Group
from groups.selectors import MEMBER_SORTS, group_list_with_bots, group_members
from tenants.dashboard import TenantScopedPageMixin
from tenants.models import Tenant

MEMBERS_PER_PAGE = 50


class MemberFilterForm(forms.Form):
    """The query string of the members table. Values are the shared drill-down names: q, sort, opted_out."""

    q = forms.CharField(
        label="Search nicknames", required=False, max_length=100, widget=forms.TextInput(attrs={"type": "search"})
    )
    sort = forms.ChoiceField(
        label="Sort by",
        required=False,
        choices=[
            ("-engagement", "Most engaged first"),
            ("engagement", "Least engaged first"),
            ("name", "Nickname A to Z"),
            ("-last_seen", "Seen most recently"),
            ("last_seen", "Seen longest ago"),
        ],
        error_messages={"invalid_choice": f"Sort by one of: {', '.join(MEMBER_SORTS)}."},
    )
    opted_out = forms.ChoiceField(
        label="Opt-out",
        required=False,
        choices=[("", "Everyone"), ("false", "Not opted out"), ("true", "Opted out")],
        error_messages={"invalid_choice": "Opt-out is true or false."},
    )

    def member_query(self) -> dict[str, Any]:
        """The keyword arguments of `group_members` for a valid form."""
        opted_out = {"true": True, "false": False}.get(self.cleaned_data["opted_out"])
        return {"search": self.cleaned_data["q"].strip(), "opted_out": opted_out,
                "sort": self.cleaned_data["sort"] or "-engagement"}  # fmt: skip


class GroupListPage(TenantScopedPageMixin, ListView):  # type: ignore[type-arg]
    model = Group  # type: ignore[misc]  # the scoping mixin's ClassVar meets ListView's attribute
    nav_section = "groups"
    template_name = "groups/group_list.html"
    context_object_name = "groups"
    paginate_by = 50

    def tenant_queryset(self, *, tenant: Tenant) -> QuerySet[Any]:
        return group_list_with_bots(tenant=tenant)


class GroupDetailPage(TenantScopedPageMixin, DetailView):  # type: ignore[type-arg]
    model = Group  # type: ignore[misc]  # the scoping mixin's ClassVar meets DetailView's attribute
    nav_section = "groups"
    template_name = "groups/group_detail.html"
    context_object_name = "group"

    def tenant_queryset(self, *, tenant: Tenant) -> QuerySet[Any]:
        return group_list_with_bots(tenant=tenant)

    def http_method_not_allowed(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # A read-only page: another tenant's object is still a 404 for every method, before a 405 could hint at it.
        self.get_object()
        return super().http_method_not_allowed(request, *args, **kwargs)

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.object = self.get_object()
        form = MemberFilterForm(request.GET)
        context = self.get_context_data(object=self.object, form=form)
        if not form.is_valid():
            return self.render_to_response(context, status=400)
        members = group_members(tenant=self.tenant, group=self.object, **form.member_query())
        page_obj = Paginator(members, MEMBERS_PER_PAGE).get_page(request.GET.get("page"))
        query = request.GET.copy()
        query.pop("page", None)
        context.update(
            page_obj=page_obj, members=page_obj.object_list, query_string=query.urlencode(),
            filtered=any(form.cleaned_data[name] for name in ("q", "opted_out")),
        )  # fmt: skip
        return self.render_to_response(context)
