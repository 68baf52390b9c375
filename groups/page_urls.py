from django.urls import path

from groups.pages import GroupDetailPage, GroupListPage

app_name = "groups"

urlpatterns = [
    path("groups/", GroupListPage.as_view(), name="list"),
    path("groups/<uuid:pk>/", GroupDetailPage.as_view(), name="detail"),
]
