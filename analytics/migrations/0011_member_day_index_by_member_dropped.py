# Member-days are written by the rebuild in key order, half a million for a busy tenant's year; the index by member
# took each of them at a random place (2.5 s of a full rebuild's 4.5 s of inserting them, on the dashboard bench's
# 1M-interaction tenant). Nothing reads member-days by member often enough to pay for it any more: distinct active
# members come from the member-years. The table is derived, so dropping the index takes its lock only for a moment.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('analytics', '0010_member_years'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='memberday',
            name='analytics_memberday_member_day',
        ),
    ]
