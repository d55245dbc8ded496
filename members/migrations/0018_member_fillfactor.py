"""The member table keeps a fifth of each page free (members.physical_order): an updated
member's new row version stays on its page, and the weekly reordering lasts."""

from django.db import migrations


def set_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE members_member SET (fillfactor = 80)")


def reset_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE members_member RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [("members", "0017_import_value_step")]

    operations = [migrations.RunPython(set_fillfactor, reset_fillfactor)]
