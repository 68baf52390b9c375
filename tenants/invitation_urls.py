"""The invitation link e-mailed to a new team member; public, outside /t/, because the invitee is not a member yet."""

from django.urls import path

from tenants import pages

app_name = "invitations"

urlpatterns = [
    path("<str:token>/", pages.InvitationAcceptView.as_view(), name="accept"),
]
