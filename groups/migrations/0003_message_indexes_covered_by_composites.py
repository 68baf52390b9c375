"""Drop groups_message's single-column tenant_id and group_id indexes: every lookup by either is served by a
composite index that leads with it ((tenant_id, received_at), (tenant_id, sent_at), unique (group_id,
groupme_message_id)), and each index is one more write per callback.

Only the indexes go: the foreign keys stay as they are. Django's AlterField would drop and re-add each constraint,
which re-checks every row of the largest table under lock; on PostgreSQL the indexes are dropped concurrently.
"""

import django.db.models.deletion
from django.db import migrations, models

INDEXES = {"groups_message_group_id_6126740d": "group_id", "groups_message_tenant_id_805a4265": "tenant_id"}


def _concurrently(schema_editor) -> str:
    return " CONCURRENTLY" if schema_editor.connection.vendor == "postgresql" else ""


def drop_indexes(apps, schema_editor) -> None:
    for name in INDEXES:
        schema_editor.execute(f'DROP INDEX{_concurrently(schema_editor)} IF EXISTS "{name}"')


def create_indexes(apps, schema_editor) -> None:
    for name, column in INDEXES.items():
        schema_editor.execute(
            f'CREATE INDEX{_concurrently(schema_editor)} IF NOT EXISTS "{name}" ON "groups_message" ("{column}")'
        )


class Migration(migrations.Migration):
    atomic = False  # CREATE/DROP INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [
        ("groups", "0002_kpi_watermark_indexes"),
        ("tenants", "0003_tenant_wording_invitation"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="message",
                    name="group",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="messages",
                        to="groups.group",
                    ),
                ),
                migrations.AlterField(
                    model_name="message",
                    name="tenant",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="tenants.tenant",
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(drop_indexes, create_indexes)],
        ),
    ]
