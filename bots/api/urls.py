from django.urls import path
from rest_framework.routers import SimpleRouter

from bots.api.views import BotViewSet, GroupMeConnectionView, GroupMeGroupsView, InteractionViewSet, RuleViewSet

router = SimpleRouter()
router.register("bots", BotViewSet, basename="bot")
router.register(r"bots/(?P<bot_pk>[^/.]+)/rules", RuleViewSet, basename="rule")
router.register("interactions", InteractionViewSet, basename="interaction")

urlpatterns = [
    path("groupme/connection/", GroupMeConnectionView.as_view(), name="groupme-connection"),
    path("groupme/groups/", GroupMeGroupsView.as_view(), name="groupme-groups"),
    *router.urls,
]
