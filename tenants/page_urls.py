from django.urls import path

from tenants import pages

app_name = "manage"

urlpatterns = [
    path("api-keys/", pages.ApiKeysView.as_view(), name="api-keys"),
    path("api-keys/<uuid:pk>/roll/", pages.ApiKeyRollView.as_view(), name="api-key-roll"),
    path("api-keys/<uuid:pk>/revoke/", pages.ApiKeyRevokeView.as_view(), name="api-key-revoke"),
    path("team/", pages.TeamView.as_view(), name="team"),
    path("team/invitations/", pages.TeamInviteView.as_view(), name="team-invite"),
    path("team/invitations/<uuid:pk>/resend/", pages.InvitationResendView.as_view(), name="invitation-resend"),
    path("team/invitations/<uuid:pk>/cancel/", pages.InvitationCancelView.as_view(), name="invitation-cancel"),
    path("team/members/<uuid:pk>/role/", pages.MemberRoleView.as_view(), name="member-role"),
    path("team/members/<uuid:pk>/remove/", pages.MemberRemoveView.as_view(), name="member-remove"),
    path("settings/", pages.TenantSettingsView.as_view(), name="settings"),
]
