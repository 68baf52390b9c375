# DailyRollup rows are derived data: the table is recreated with an integer key (so a span of days is written by
# one INSERT … SELECT), and every watermark is dropped so the next KPI run rebuilds all rollups.

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


def rebuild_everything(apps, schema_editor):
    apps.get_model("analytics", "AggregationWatermark").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0003_member_day_integer_key"),
        ("bots", "0001_initial"),
        ("groups", "0001_initial"),
        ("tenants", "0002_tenant_ad_disclosure"),
    ]

    operations = [
        migrations.DeleteModel(name="DailyRollup"),
        migrations.CreateModel(
            name="DailyRollup",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                ("day", models.DateField()),
                ("messages", models.PositiveIntegerField(default=0)),
                ("interactions", models.PositiveIntegerField(default=0)),
                ("unhandled", models.PositiveIntegerField(default=0)),
                ("replies", models.PositiveIntegerField(default=0)),
                ("clicks", models.PositiveIntegerField(default=0)),
                ("conversions", models.PositiveIntegerField(default=0)),
                ("purchases", models.PositiveIntegerField(default=0)),
                ("revenue", models.JSONField(default=dict, help_text="Currency -> net minor units, refunds subtracted.")),
                ("response_time_buckets", models.JSONField(default=list)),
                ("sentiment_sum", models.FloatField(default=0.0)),
                ("sentiment_count", models.PositiveIntegerField(default=0)),
                ("bot", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name="+", to="bots.bot")),
                ("group", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name="+", to="groups.group")),
                ("tenant", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to="tenants.tenant")),
            ],
            options={
                "indexes": [models.Index(fields=["tenant", "day"], name="analytics_d_tenant__79c8c3_idx")],
            },
        ),
        migrations.RunPython(rebuild_everything, migrations.RunPython.noop),
    ]
