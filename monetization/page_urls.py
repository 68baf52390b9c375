from django.urls import path

from monetization import pages

app_name = "money"

urlpatterns = [
    path("links/", pages.LinkListView.as_view(), name="links"),
    path("links/new/", pages.LinkCreateView.as_view(), name="link-create"),
    path("links/<uuid:pk>/", pages.LinkEditView.as_view(), name="link-edit"),
    path("links/<uuid:pk>/delete/", pages.LinkDeleteView.as_view(), name="link-delete"),
    path("money/", pages.MoneyIndexView.as_view(), name="index"),
    path("money/sources/new/", pages.SourceCreateView.as_view(), name="source-create"),
    path("money/sources/<uuid:pk>/", pages.SourceEditView.as_view(), name="source-edit"),
    path("money/sources/<uuid:pk>/delete/", pages.SourceDeleteView.as_view(), name="source-delete"),
    path("money/conversions/", pages.ConversionListView.as_view(), name="conversions"),
    path("money/ledger/", pages.LedgerView.as_view(), name="ledger"),
    path("money/reconciliation/", pages.ReconciliationView.as_view(), name="reconciliation"),
    path("sponsored/", pages.SponsoredView.as_view(), name="sponsored"),
    path("sponsored/new/", pages.CreativeCreateView.as_view(), name="creative-create"),
    path("sponsored/<uuid:pk>/", pages.CreativeEditView.as_view(), name="creative-edit"),
    path("sponsored/<uuid:pk>/delete/", pages.CreativeDeleteView.as_view(), name="creative-delete"),
]
