# Which messages became interactions, marked once here for the history; processing marks each new one.

from django.db import migrations, models
from django.db.models import Exists, OuterRef


def messages_with_interactions_marked(apps, schema_editor):
    Message = apps.get_model("groups", "Message")
    Interaction = apps.get_model("bots", "Interaction")
    Message.objects.filter(Exists(Interaction.objects.filter(message_id=OuterRef("pk")))).update(has_interaction=True)


class Migration(migrations.Migration):

    dependencies = [
        ('groups', '0003_message_indexes_covered_by_composites'),
        ('bots', '0009_indexes_covered_by_composites'),
    ]

    operations = [
        migrations.AddField(
            model_name='message',
            name='has_interaction',
            field=models.BooleanField(default=False),
        ),
        migrations.RunPython(messages_with_interactions_marked, migrations.RunPython.noop),
    ]
