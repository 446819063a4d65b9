import json

from django.db import models
from fernet_fields import EncryptedTextField
from simple_history.models import HistoricalRecords

from connectors import registry
from hub.configcache import ConfigQuerySet


class Connection(models.Model):
    """One account on an external system: where it is, how to authenticate, and its secrets."""

    name = models.CharField(max_length=100)
    slug = models.SlugField(unique=True, help_text="Used in the webhook URL: /webhooks/<slug>/")
    kind = models.CharField("system", max_length=30, choices=registry.kind_choices)
    base_url = models.URLField("base URL", blank=True, help_text="e.g. https://shop.example.com (not needed for M3: the .ionapi file has it)")
    auth_kind = models.CharField(max_length=20, choices=registry.auth_kind_choices)
    # JSON object of credentials, Fernet-encrypted at rest; never rendered back by the admin or API.
    secrets = EncryptedTextField(default="{}", editable=False)
    settings = models.JSONField(default=dict, blank=True, help_text="Non-secret options, e.g. M3 company, order defaults.")
    enabled = models.BooleanField(default=True, help_text="Off: pushes are refused and deliveries to it wait")
    # Circuit breaker: after repeated transient failures deliveries wait instead of failing, until a
    # probe after the cool-down succeeds.
    class Circuit(models.TextChoices):
        CLOSED = "closed", "closed"
        OPEN = "open", "open (deliveries wait)"
        HALF_OPEN = "half_open", "half-open (probing)"

    circuit = models.CharField(max_length=10, choices=Circuit.choices, default=Circuit.CLOSED, editable=False)
    circuit_failures = models.PositiveIntegerField(default=0, editable=False)
    circuit_opened_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Rate budget shared by every worker (a token bucket in Redis): empty means unlimited.
    rate_limit = models.FloatField("requests per second", null=True, blank=True,
                                   help_text="Most calls per second to this system, from all workers together; empty: no limit")
    rate_burst = models.PositiveIntegerField("burst", null=True, blank=True,
                                             help_text="Calls allowed at once above the steady rate (default 1)")
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    objects = ConfigQuerySet.as_manager()  # update() and delete() tell the workers (hub.configcache)
    # Who changed what; secrets are left out (the history says when they changed, not to what).
    history = HistoricalRecords(excluded_fields=["secrets", "last_error", "last_error_at", "updated_at", "circuit",
                                                 "circuit_failures", "circuit_opened_at"])

    class Meta:
        ordering = ["name"]
        permissions = [("pause_connection", "Can pause and resume connections")]

    def __str__(self):
        return self.name

    @property
    def connector_class(self):
        return registry.CONNECTORS[self.kind]

    def connector(self):
        return self.connector_class(self)

    # Secrets are decrypted on demand and parsed once per instance.
    def _secret_dict(self) -> dict:
        cached = getattr(self, "_secrets_cache", None)
        if cached is None:
            cached = self._secrets_cache = json.loads(self.secrets or "{}")
        return cached

    def secret(self, name: str) -> str:
        return self._secret_dict().get(name, "")

    def set_secret(self, name: str, value: str) -> None:
        data = dict(self._secret_dict())
        if value:
            data[name] = value
        else:
            data.pop(name, None)
        self.secrets = json.dumps(data)
        self._secrets_cache = data

    def secret_names(self) -> list[str]:
        return sorted(self._secret_dict())
