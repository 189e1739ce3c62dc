"""The console's roles as auth groups with their permissions (config.roles defines them)."""

from django.db import migrations


def create_roles(apps, schema_editor):
    from config.roles import roles_sync

    roles_sync(using=schema_editor.connection.alias)


def remove_roles(apps, schema_editor):
    from config.roles import ROLES

    apps.get_model("auth", "Group").objects.using(schema_editor.connection.alias).filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
