"""Any change to a mapping's rules or to a value map it uses makes a new mapping version."""

from django.db.models import F
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from mappings.models import Mapping, MappingRule, ValueMapEntry


def _bump_for_rule(sender, instance, **kwargs):
    Mapping.objects.filter(pk=instance.mapping_id).update(version=F("version") + 1, updated_at=timezone.now())


def _bump_for_entry(sender, instance, **kwargs):
    Mapping.objects.filter(rules__value_map_id=instance.value_map_id).update(
        version=F("version") + 1, updated_at=timezone.now()
    )


def connect():
    for signal in (post_save, post_delete):
        signal.connect(_bump_for_rule, sender=MappingRule, dispatch_uid=f"bump-rule-{signal}")
        signal.connect(_bump_for_entry, sender=ValueMapEntry, dispatch_uid=f"bump-entry-{signal}")
