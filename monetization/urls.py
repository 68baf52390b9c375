from django.urls import path

from monetization.payment_views import payment_webhook
from monetization.views import conversion_postback, short_link

urlpatterns = [
    path("l/<str:code>", short_link, name="short-link"),
    path("l/<str:code>/", short_link),
    path("hooks/postback/<str:token>/", conversion_postback, name="conversion-postback"),
    path("hooks/payments/<str:token>/", payment_webhook, name="payment-webhook"),
]
