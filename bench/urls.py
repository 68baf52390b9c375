"""The project's URLs plus POST /bench/bare/: the same middleware stack, no database, no broker."""

from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from config.urls import handler404, handler500


@csrf_exempt
@require_POST
def bare(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "accepted"}, status=202)


urlpatterns = [
    path("bench/bare/", bare, name="bench-bare"),
    path("", include("config.urls")),
]

__all__ = ["handler404", "handler500", "urlpatterns"]
