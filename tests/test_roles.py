"""The roles as the migrations leave them (not transactional: the groups made by migrations are there)."""

import pytest
from django.contrib.auth.models import Group, Permission

pytestmark = pytest.mark.django_db


def test_the_admin_role_has_the_permissions_of_every_model():
    admin_role = Group.objects.get(name="Admin")
    assert set(Permission.objects.all()) == set(admin_role.permissions.all())
    assert admin_role.permissions.filter(codename__in=["change_backfill", "publish_mapping"]).count() == 2


def test_integrators_publish_mappings_and_operators_do_not():
    assert Group.objects.get(name="Integrator").permissions.filter(codename="publish_mapping").exists()
    assert not Group.objects.get(name="Operator").permissions.filter(codename="publish_mapping").exists()
