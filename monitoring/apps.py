from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _admin_role_has_everything(sender, **kwargs):
    """The Admin role keeps every permission, those of models added after its migration too."""
    from django.contrib.auth.models import Group, Permission

    group = Group.objects.filter(name="Admin").first()
    if group is not None:
        group.permissions.add(*Permission.objects.exclude(group=group))


class MonitoringConfig(AppConfig):
    name = "monitoring"
    verbose_name = "Sync log"

    def ready(self):
        # after every app: permissions are made app by app, ours may come before the others
        post_migrate.connect(_admin_role_has_everything, dispatch_uid="admin-role-has-everything")
