from django.db import migrations


def rebuild_on_next_run(apps, schema_editor):
    """The next migration splits money out of the intent rollups and adds retention cells: derived rows, so they
    are emptied here, and without a watermark the KPI job's next run rebuilds every tenant whole."""
    apps.get_model("analytics", "IntentRollup").objects.all().delete()
    apps.get_model("analytics", "AggregationWatermark").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("analytics", "0007_intent_rollups")]

    operations = [migrations.RunPython(rebuild_on_next_run, migrations.RunPython.noop)]
