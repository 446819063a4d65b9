from django.db import models
from simple_history.models import HistoricalRecords


class ValueMap(models.Model):
    """A lookup table, e.g. X-Cart shipping method -> M3 delivery method (MODL)."""

    name = models.SlugField(unique=True)
    description = models.TextField(blank=True)
    history = HistoricalRecords()

    def __str__(self):
        return self.name


class ValueMapEntry(models.Model):
    value_map = models.ForeignKey(ValueMap, on_delete=models.CASCADE, related_name="entries")
    source_value = models.CharField(max_length=200)
    target_value = models.CharField(max_length=200)
    history = HistoricalRecords()

    class Meta:
        verbose_name_plural = "value map entries"
        constraints = [models.UniqueConstraint(fields=["value_map", "source_value"], name="one_target_per_source_value")]

    def __str__(self):
        return f"{self.source_value} -> {self.target_value}"


class Mapping(models.Model):
    """Turns one source record into one target record, rule by rule.

    ``version`` goes up on every change of the mapping or its rules, and each sync attempt stores
    the version it ran with (full draft/published versions are their own feature).
    """

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    version = models.PositiveIntegerField(default=1, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(excluded_fields=["version", "updated_at"])

    def __str__(self):
        return self.name


class MappingRule(models.Model):
    class Transform(models.TextChoices):
        NONE = "", "none"
        TRIM = "trim", "trim spaces"
        UPPER = "upper", "upper case"
        LOWER = "lower", "lower case"
        TEXT = "text", "text (truncate to argument length if given)"
        INTEGER = "integer", "integer"
        DECIMAL = "decimal", "decimal (argument: places, default 2)"
        JOIN = "join", "join several sources (argument: separator, default space)"
        WORDS = "words", "words of a text (argument: 0 = first word, 1: = from the second on, -1 = last)"
        FORMAT = "format", "format each entry, e.g. {sku} x {qty} (argument: the template; a list gives a list)"
        RICHTEXT = "richtext", "rich text or HTML -> sanitised HTML or plain text (argument: html or text)"
        DATE_M3 = "date_m3", "unix time -> M3 date YYYYMMDD"
        LOOKUP = "lookup", "lookup in value map"

    mapping = models.ForeignKey(Mapping, on_delete=models.CASCADE, related_name="rules")
    position = models.PositiveIntegerField(default=0)
    target = models.CharField(max_length=200, help_text="Dotted path in the output; lines[].ITNO for one entry per source item")
    source = models.CharField(max_length=300, blank=True, help_text="Dotted path in the source record (items[].sku); several comma-separated for join")
    constant = models.CharField(max_length=200, blank=True, help_text="Used instead of a source")
    default = models.CharField(max_length=200, blank=True, help_text="Used when the source is empty")
    required = models.BooleanField(default=False)
    transform = models.CharField(max_length=20, choices=Transform.choices, blank=True)
    argument = models.CharField(max_length=200, blank=True)
    value_map = models.ForeignKey(ValueMap, null=True, blank=True, on_delete=models.PROTECT)
    history = HistoricalRecords()

    class Meta:
        ordering = ["mapping", "position", "id"]

    def __str__(self):
        return f"{self.target} <- {self.source or repr(self.constant)}"
