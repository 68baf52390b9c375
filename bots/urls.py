from django.urls import path

from bots.views import groupme_callback

urlpatterns = [
    path("hooks/groupme/<str:token>/", groupme_callback, name="groupme-callback"),
]
