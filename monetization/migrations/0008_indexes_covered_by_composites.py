"""Drop indexes other indexes make redundant: conversion's second index of interaction_id (the foreign key has its
own), and the single-column tenant_id indexes of clicks and conversions, which (tenant_id, clicked_at) and
(tenant_id, occurred_at) lead with. Every lookup keeps an index; each click and conversion writes fewer. Only the
indexes go (config.migration_indexes), concurrently on PostgreSQL."""

import django.db.models.deletion
from django.db import migrations, models

from config.migration_indexes import drop_redundant_indexes


def _tenant_without_index() -> models.ForeignKey:
    return models.ForeignKey(
        db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="+", to="tenants.tenant"
    )


class Migration(migrations.Migration):
    atomic = False  # CREATE/DROP INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [
        ("monetization", "0007_sponsored_impressions_of_failed_replies"),
        ("tenants", "0003_tenant_wording_invitation"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveIndex(model_name="conversion", name="monetizatio_interac_f91c54_idx"),
                migrations.AlterField(model_name="click", name="tenant", field=_tenant_without_index()),
                migrations.AlterField(model_name="conversion", name="tenant", field=_tenant_without_index()),
            ],
            database_operations=[
                drop_redundant_indexes(
                    table="monetization_conversion",
                    indexes={
                        "monetizatio_interac_f91c54_idx": "interaction_id",
                        "monetization_conversion_tenant_id_c7ffcba4": "tenant_id",
                    },
                ),
                drop_redundant_indexes(
                    table="monetization_click", indexes={"monetization_click_tenant_id_4cf8b554": "tenant_id"}
                ),
            ],
        ),
    ]
