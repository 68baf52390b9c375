from django.urls import path

from monetization.views import conversion_postback, short_link

urlpatterns = [
    path("l/<str:code>", short_link, name="short-link"),
    path("l/<str:code>/", short_link),
    path("hooks/postback/<str:token>/", conversion_postback, name="conversion-postback"),
]
