from rest_framework.routers import SimpleRouter

from monetization.api.views import ConversionViewSet, LinkViewSet, MonetizationSourceViewSet

router = SimpleRouter()
router.register("monetization-sources", MonetizationSourceViewSet, basename="monetization-source")
router.register("links", LinkViewSet, basename="link")
router.register("conversions", ConversionViewSet, basename="conversion")

urlpatterns = router.urls
