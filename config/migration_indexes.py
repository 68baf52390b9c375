"""A migration step that drops indexes a composite index makes redundant, and nothing else.

An index whose column leads a composite index serves no lookup the composite does not, yet costs a write on every
INSERT of its table and the disk of a copy of that column. Django's own operations for a foreign key's index
(AlterField with db_index=False) drop and re-add the foreign key constraint, which re-checks every row of the table
under lock; this drops the index alone, concurrently on PostgreSQL (the migration must then be non-atomic), and
creates it again when migrated backwards.
"""

from typing import Any

from django.db import migrations


def _concurrently(schema_editor: Any) -> str:
    return " CONCURRENTLY" if schema_editor.connection.vendor == "postgresql" else ""


def drop_redundant_indexes(*, table: str, indexes: dict[str, str]) -> migrations.RunPython:
    """`indexes`: each index's name and its one column, as the database holds them."""

    def drop(apps: Any, schema_editor: Any) -> None:
        for name in indexes:
            schema_editor.execute(f'DROP INDEX{_concurrently(schema_editor)} IF EXISTS "{name}"')

    def create(apps: Any, schema_editor: Any) -> None:
        for name, column in indexes.items():
            schema_editor.execute(
                f'CREATE INDEX{_concurrently(schema_editor)} IF NOT EXISTS "{name}" ON "{table}" ("{column}")'
            )

    return migrations.RunPython(drop, create)
