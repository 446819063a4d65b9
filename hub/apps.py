from django.apps import AppConfig
from django.conf import settings


class HubConfig(AppConfig):
    name = "hub"
    verbose_name = "Flows and links"

    def ready(self):
        if settings.EMBEDDED_REDIS:
            from hub import embedded_redis

            embedded_redis.start(settings.DATA_DIR)
