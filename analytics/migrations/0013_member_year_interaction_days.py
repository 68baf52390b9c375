# Member-years now keep the days each member had an interaction too. Derived from messages the groups migration has
# just marked: without a watermark the KPI job's next run rebuilds every tenant whole, which fills them.

import analytics.models
from django.db import migrations


def rebuild_on_next_run(apps, schema_editor):
    apps.get_model("analytics", "AggregationWatermark").objects.all().delete()


class Migration(migrations.Migration):

    dependencies = [
        ('analytics', '0012_member_day_dropped'),
        ('groups', '0004_message_has_interaction'),
    ]

    operations = [
        migrations.AddField(
            model_name='memberyear',
            name='interaction_days',
            field=analytics.models.YearDayBits(),
        ),
        migrations.RunPython(rebuild_on_next_run, migrations.RunPython.noop),
    ]
