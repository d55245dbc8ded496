from django.db import migrations


def create(apps, schema_editor):
    # One trigram index per existing state (members.search_indexes); new states get theirs
    # when they are made.
    from members import search_indexes

    search_indexes.ensure(concurrently=False)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    from members import search_indexes

    for name in search_indexes._existing():
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0014_member_state_indexes"),
    ]

    operations = [migrations.RunPython(create, drop)]
