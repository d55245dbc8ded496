"""A trigram index for the member list's search box, on PostgreSQL only.

SQLite (the embedded default) searches the same column without it.
"""

from django.db import migrations

CREATE = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS members_member_search_trgm "
    "ON members_member USING gin (search_text gin_trgm_ops)",
]
DROP = ["DROP INDEX IF EXISTS members_member_search_trgm"]


def run(statements):
    def apply(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for statement in statements:
            schema_editor.execute(statement)

    return apply


class Migration(migrations.Migration):
    dependencies = [("members", "0002_register")]

    operations = [migrations.RunPython(run(CREATE), run(DROP))]
