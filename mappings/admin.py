from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from mappings.models import Mapping, MappingRule, ValueMap, ValueMapEntry


class MappingRuleInline(admin.TabularInline):
    model = MappingRule
    fk_name = "mapping"
    extra = 1
    fields = ["position", "target", "source", "constant", "default", "required", "transforms", "condition", "expression",
              "child"]


@admin.register(Mapping)
class MappingAdmin(SimpleHistoryAdmin):
    list_display = ["name", "version", "rule_count", "updated_at"]
    search_fields = ["name", "description"]
    readonly_fields = ["version", "updated_at"]
    inlines = [MappingRuleInline]

    @admin.display(description="rules")
    def rule_count(self, obj):
        return obj.rules.count()


class ValueMapEntryInline(admin.TabularInline):
    model = ValueMapEntry
    extra = 1


@admin.register(ValueMap)
class ValueMapAdmin(SimpleHistoryAdmin):
    list_display = ["name", "description"]
    search_fields = ["name", "entries__source_value", "entries__target_value"]
    inlines = [ValueMapEntryInline]
