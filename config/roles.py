"""The console's roles: five auth groups whose permissions are defined in code, by the navigation.

超级管理员 has every permission. The others work on pages: a role gets, for every page of
config.console.NAVIGATION whose section (or the page itself) names it, the permissions its access
(VIEW, OPERATE, MANAGE) grants on the page's model; plus the few custom permissions its work needs
beyond a model's four (EXTRA). A page added to a section gets the section's roles with no change
here; a page that belongs to other roles than its section's says so with `roles=`.

`roles_sync()` makes the groups hold exactly these permissions. The migration that creates the
groups runs it, and so does every `migrate` after (config.apps), so a new page or model reaches
its roles on the next deploy. The group editor shows these roles read-only (config.admin): a role
is changed here, in review, not by hand in one database.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from config.console import FINANCE, NAVIGATION, OPS, SERVICE, WAREHOUSE

SUPERUSER = "超级管理员"
ROLES: tuple[str, ...] = (SUPERUSER, OPS, SERVICE, FINANCE, WAREHOUSE)

# What each role's work needs beyond its pages' model permissions.
EXTRA: dict[str, tuple[str, ...]] = {
    # Stock levels come with the SKU master data operations import.
    OPS: ("catalog.change_stock", "members.export_member"),
    SERVICE: (),
    # Money: the second approval of a large refund, the files of orders and refunds.
    FINANCE: ("shop.second_approve_aftersale", "shop.export_order", "shop.export_refund"),
    # Stock counts and adjustments; the receiver's full phone number goes on the parcel.
    WAREHOUSE: ("catalog.change_stock", "members.view_member_phone"),
}


def role_permissions() -> dict[str, set[str]]:
    """Each role but 超级管理员 -> its permissions as "app_label.codename"."""
    granted: dict[str, set[str]] = {role: set(EXTRA[role]) for role in ROLES if role != SUPERUSER}
    for section in NAVIGATION:
        for page in section.pages:
            app_label, model_name = page.model.split(".")
            for role, access in section.page_roles(page).items():
                if role not in granted:
                    raise ImproperlyConfigured(f"console page {page.label!r} names an unknown role {role!r}")
                granted[role] |= {f"{app_label}.{action}_{model_name}" for action in access}
    return granted


def roles_sync(*, using: str = "default") -> None:
    """Create the role groups and give each exactly its permissions (idempotent).

    Permissions are created first for every installed model, so this also works inside a migration,
    before Django's post-migrate step has made them.
    """
    for app_config in global_apps.get_app_configs():
        create_permissions(app_config, verbosity=0, using=using)
    with transaction.atomic(using=using):
        everything = list(Permission.objects.using(using).select_related("content_type"))
        by_name = {f"{p.content_type.app_label}.{p.codename}": p for p in everything}
        for role, names in role_permissions().items():
            _set(using, role, _lookup(by_name, role, names))
        _set(using, SUPERUSER, everything)


def _lookup(by_name: dict[str, Permission], role: str, names: Iterable[str]) -> list[Permission]:
    missing = sorted(set(names) - set(by_name))
    if missing:
        raise ImproperlyConfigured(f"role {role} names permissions that do not exist: {', '.join(missing)}")
    return [by_name[name] for name in names]


def _set(using: str, role: str, permissions: list[Permission]) -> None:
    group, _ = Group.objects.using(using).get_or_create(name=role)
    group.permissions.set(permissions)
