# MemberDay rows are derived data: the table is recreated keyed by the row itself (tenant, day, group, member), with
# no database foreign-key checks and an index for per-member probes; every watermark is dropped so the next KPI run
# rebuilds all rollups.

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


def rebuild_everything(apps, schema_editor):
    apps.get_model("analytics", "AggregationWatermark").objects.all().delete()


def lean_foreign_key(to):
    return models.ForeignKey(
        db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="+", to=to
    )


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0004_daily_rollup_integer_key"),
        ("groups", "0001_initial"),
        ("tenants", "0002_tenant_ad_disclosure"),
    ]

    operations = [
        migrations.DeleteModel(name="MemberDay"),
        migrations.CreateModel(
            name="MemberDay",
            fields=[
                ("pk", models.CompositePrimaryKey("tenant", "day", "group", "member", blank=True, editable=False, primary_key=True, serialize=False)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                ("day", models.DateField()),
                ("group", lean_foreign_key("groups.group")),
                ("member", lean_foreign_key("groups.member")),
                ("tenant", lean_foreign_key("tenants.tenant")),
            ],
            options={
                "indexes": [models.Index(fields=["member", "day"], name="analytics_memberday_member_day")],
            },
        ),
        migrations.RunPython(rebuild_everything, migrations.RunPython.noop),
    ]
