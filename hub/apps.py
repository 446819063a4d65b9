from django.apps import AppConfig
from django.conf import settings


class HubConfig(AppConfig):
    name = "hub"
    verbose_name = "Flows and links"

    def ready(self):
        from connectors.models import Connection
        from hub import configcache
        from hub.models import Flow
        from mappings.models import Mapping, MappingVersion

        configcache.watch(Connection, Flow, Mapping, MappingVersion)
        if settings.EMBEDDED_REDIS:
            from hub import embedded_redis

            embedded_redis.start(settings.DATA_DIR)
