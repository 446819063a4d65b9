"""The roles get the permissions of the mapping versions and suggestions: integrators publish and roll
back, and accept or reject suggestions; everyone who can view sees them; Admin has everything."""

from django.db import migrations

NEW_MODELS = ("mappingversion", "mappingsuggestion")


def grant(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    app_config = apps.get_app_config("mappings")
    had_models = getattr(app_config, "models_module", None)  # historical configs have none; put back
    app_config.models_module = had_models or True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = had_models
    Group, Permission = apps.get_model("auth", "Group"), apps.get_model("auth", "Permission")
    new = Permission.objects.filter(content_type__app_label="mappings", content_type__model__in=NEW_MODELS)
    roles = {
        "Admin": new,
        "Integrator": new,
        "Operator": new.filter(codename__startswith="view_"),
        "Viewer": new.filter(codename__startswith="view_"),
    }
    for name, permissions in roles.items():
        group = Group.objects.filter(name=name).first()
        if group:
            group.permissions.add(*permissions)


class Migration(migrations.Migration):
    dependencies = [("mappings", "0003_versions"), ("monitoring", "0002_roles")]
    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
