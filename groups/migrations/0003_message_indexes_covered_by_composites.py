"""Drop groups_message's single-column tenant_id and group_id indexes: every lookup by either is served by a
composite index that leads with it ((tenant_id, received_at), (tenant_id, sent_at), unique (group_id,
groupme_message_id)), and each index is one more write per callback.

Only the indexes go (config.migration_indexes), concurrently on PostgreSQL: the foreign keys stay as they are.
"""

import django.db.models.deletion
from django.db import migrations, models

from config.migration_indexes import drop_redundant_indexes


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
            database_operations=[
                drop_redundant_indexes(
                    table="groups_message",
                    indexes={
                        "groups_message_group_id_6126740d": "group_id",
                        "groups_message_tenant_id_805a4265": "tenant_id",
                    },
                )
            ],
        ),
    ]
