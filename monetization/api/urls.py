from django.urls import path
from rest_framework.routers import SimpleRouter

from monetization.api.ledger_views import ReconciliationView, RevenueLedgerView
from monetization.api.views import ConversionViewSet, LinkViewSet, MonetizationSourceViewSet

router = SimpleRouter()
router.register("monetization-sources", MonetizationSourceViewSet, basename="monetization-source")
router.register("links", LinkViewSet, basename="link")
router.register("conversions", ConversionViewSet, basename="conversion")

urlpatterns = [
    path("revenue-ledger/", RevenueLedgerView.as_view(), name="revenue-ledger"),
    path("reconciliation/", ReconciliationView.as_view(), name="reconciliation"),
    *router.urls,
]
