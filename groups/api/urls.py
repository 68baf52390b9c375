from rest_framework.routers import SimpleRouter

from groups.api.views import GroupViewSet, MemberViewSet

router = SimpleRouter()
router.register("groups", GroupViewSet, basename="group")
router.register("members", MemberViewSet, basename="member")

urlpatterns = router.urls
