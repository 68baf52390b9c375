from django.urls import path

from bots import pages

app_name = "bots"

urlpatterns = [
    path("start/", pages.OnboardingView.as_view(), name="onboarding"),
    path("start/first-message/", pages.OnboardingFirstMessageView.as_view(), name="onboarding-first-message"),
    path("start/api-key/", pages.OnboardingApiKeyView.as_view(), name="onboarding-api-key"),
    path("bots/", pages.BotListView.as_view(), name="list"),
    path("bots/new/", pages.BotCreateView.as_view(), name="create"),
    path("bots/new/groupme/", pages.GroupMeBotCreateView.as_view(), name="create-groupme"),
    path("bots/new/manual/", pages.ManualBotCreateView.as_view(), name="create-manual"),
    path("bots/connect/", pages.GroupMeConnectView.as_view(), name="connect"),
    path("bots/<uuid:pk>/", pages.BotDetailView.as_view(), name="detail"),
    path("bots/<uuid:pk>/preview/", pages.BotPreviewView.as_view(), name="preview"),
    path("bots/<uuid:pk>/pause/", pages.BotPauseView.as_view(pause=True), name="pause"),
    path("bots/<uuid:pk>/resume/", pages.BotPauseView.as_view(pause=False), name="resume"),
    path("bots/<uuid:pk>/reset-breaker/", pages.BotBreakerResetView.as_view(), name="reset-breaker"),
    path("bots/<uuid:pk>/delete/", pages.BotDeleteView.as_view(), name="delete"),
    path("bots/<uuid:bot_pk>/rules/new/", pages.RuleCreateView.as_view(), name="rule-create"),
    path("bots/<uuid:bot_pk>/rules/<uuid:pk>/", pages.RuleEditView.as_view(), name="rule-edit"),
    path("bots/<uuid:bot_pk>/rules/<uuid:pk>/delete/", pages.RuleDeleteView.as_view(), name="rule-delete"),
]
