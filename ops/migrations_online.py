"""Migration operations that keep the member table open while a release is rolled out on a
populated PostgreSQL database (the upgrade drill measures how long each migration blocks it).
Other databases (the embedded SQLite) get Django's own operation."""

from __future__ import annotations

from typing import Any

from django.db import migrations


class MakeNullable(migrations.AlterField):
    """Make a column nullable. Django's AlterField rebuilds a foreign key for that, holding the
    strongest lock on the table it points to while every row is checked again; PostgreSQL needs
    only `ALTER COLUMN … DROP NOT NULL`, a moment's lock on the column's own table."""

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        model = to_state.apps.get_model(app_label, self.model_name)
        column = model._meta.get_field(self.name).column
        quote = schema_editor.quote_name
        schema_editor.execute(
            f"ALTER TABLE {quote(model._meta.db_table)} ALTER COLUMN {quote(column)} DROP NOT NULL"
        )
        return None

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return super().database_backwards(app_label, schema_editor, from_state, to_state)
        model = to_state.apps.get_model(app_label, self.model_name)
        column = model._meta.get_field(self.name).column
        quote = schema_editor.quote_name
        schema_editor.execute(
            f"ALTER TABLE {quote(model._meta.db_table)} ALTER COLUMN {quote(column)} SET NOT NULL"
        )
        return None


class AddIndexConcurrently(migrations.AddIndex):
    """Build an index without blocking writes (`CREATE INDEX CONCURRENTLY`) on PostgreSQL; the
    migration must say `atomic = False`."""

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        model = to_state.apps.get_model(app_label, self.model_name)
        # A build that gave up (a lock timeout) leaves an invalid index of that name behind;
        # running the migration again replaces it.
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(
                "SELECT 1 FROM pg_index JOIN pg_class ON pg_class.oid = indexrelid "
                "WHERE relname = %s AND NOT indisvalid",
                [self.index.name],
            )
            if cursor.fetchone():
                schema_editor.execute(
                    f"DROP INDEX CONCURRENTLY IF EXISTS {schema_editor.quote_name(self.index.name)}"
                )
        schema_editor.add_index(model, self.index, concurrently=True)
        return None

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return super().database_backwards(app_label, schema_editor, from_state, to_state)
        model = from_state.apps.get_model(app_label, self.model_name)
        schema_editor.remove_index(model, self.index, concurrently=True)
        return None
