"""Drop bots_interaction's single-column tenant_id and bot_id indexes: (tenant_id, occurred_at), (tenant_id,
created_at) and (bot_id, occurred_at) lead with them, so every lookup keeps an index and each processed command
writes two indexes fewer. Only the indexes go (config.migration_indexes), concurrently on PostgreSQL."""

import django.db.models.deletion
from django.db import migrations, models

from config.migration_indexes import drop_redundant_indexes


class Migration(migrations.Migration):
    atomic = False  # CREATE/DROP INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [
        ("bots", "0008_reply_part_unsettled_index"),
        ("tenants", "0003_tenant_wording_invitation"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="interaction",
                    name="bot",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="interactions",
                        to="bots.bot",
                    ),
                ),
                migrations.AlterField(
                    model_name="interaction",
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
                    table="bots_interaction",
                    indexes={
                        "bots_interaction_bot_id_26a0b738": "bot_id",
                        "bots_interaction_tenant_id_4003be47": "tenant_id",
                    },
                )
            ],
        ),
    ]
