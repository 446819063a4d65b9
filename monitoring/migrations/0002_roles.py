"""The four roles, as Django groups: Admin, Integrator, Operator, Viewer."""

from django.db import migrations

OUR_APPS = ("connectors", "hub", "mappings", "monitoring")
CONFIGURATION = {"connection", "flow", "mapping", "mappingrule", "valuemap", "valuemapentry"}
OPERATOR_EXTRA = {"replay_syncrecord", "pause_flow", "pause_connection"}


def create_roles(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    # Permissions are normally made after migrate; the roles need them now.
    for app_config in apps.get_app_configs():
        had_models = getattr(app_config, "models_module", None)  # historical configs have none; put back
        app_config.models_module = had_models or True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = had_models
    Group, Permission = apps.get_model("auth", "Group"), apps.get_model("auth", "Permission")
    ours = Permission.objects.filter(content_type__app_label__in=OUR_APPS)
    views = ours.filter(codename__startswith="view_")
    configuration = ours.filter(content_type__model__in=CONFIGURATION)
    roles = {
        "Admin": Permission.objects.all(),
        "Integrator": views | configuration,
        "Operator": views | ours.filter(codename__in=OPERATOR_EXTRA),
        "Viewer": views,
    }
    for name, permissions in roles.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(permissions)


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=["Admin", "Integrator", "Operator", "Viewer"]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0001_initial"),
        ("hub", "0001_initial"),
        ("connectors", "0001_initial"),
        ("mappings", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(create_roles, remove_roles)]
