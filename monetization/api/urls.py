from django.urls import path
from rest_framework.routers import SimpleRouter

from monetization.api.ledger_views import ReconciliationView, RevenueLedgerView
from monetization.api.sponsorship_views import CreativeViewSet, SponsorPerformanceView
from monetization.api.views import ConversionViewSet, LinkViewSet, MonetizationSourceViewSet

router = SimpleRouter()
router.register("monetization-sources", MonetizationSourceViewSet, basename="monetization-source")
router.register("links", LinkViewSet, basename="link")
router.register("conversions", ConversionViewSet, basename="conversion")
router.register("creatives", CreativeViewSet, basename="creative")

urlpatterns = [
    path("revenue-ledger/", RevenueLedgerView.as_view(), name="revenue-ledger"),
    path("reconciliation/", ReconciliationView.as_view(), name="reconciliation"),
    path("sponsor-performance/", SponsorPerformanceView.as_view(), name="sponsor-performance"),
    *router.urls,
]
