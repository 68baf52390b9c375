from django.apps import AppConfig


class MonetizationConfig(AppConfig):
    name = "monetization"
    default_auto_field = "django.db.models.BigAutoField"
