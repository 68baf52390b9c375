# MemberDay rows are derived data: the table is recreated with an integer key (so a day's rows can be written by
# one INSERT … SELECT), and every watermark is dropped so the next KPI run rebuilds all rollups.

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


def rebuild_everything(apps, schema_editor):
    apps.get_model("analytics", "AggregationWatermark").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0002_bot_health_alert"),
        ("groups", "0001_initial"),
        ("tenants", "0002_tenant_ad_disclosure"),
    ]

    operations = [
        migrations.DeleteModel(name="MemberDay"),
        migrations.CreateModel(
            name="MemberDay",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                ("day", models.DateField()),
                ("group", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to="groups.group")),
                ("member", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to="groups.member")),
                ("tenant", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to="tenants.tenant")),
            ],
            options={
                "indexes": [models.Index(fields=["tenant", "day", "group"], name="analytics_m_tenant__ab9660_idx")],
            },
        ),
        migrations.RunPython(rebuild_everything, migrations.RunPython.noop),
    ]
