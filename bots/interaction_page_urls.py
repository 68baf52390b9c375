from django.urls import path

from bots.interaction_pages import InteractionDetailPage, InteractionListPage

app_name = "interactions"

urlpatterns = [
    path("interactions/", InteractionListPage.as_view(), name="list"),
    path("interactions/<uuid:pk>/", InteractionDetailPage.as_view(), name="detail"),
]
