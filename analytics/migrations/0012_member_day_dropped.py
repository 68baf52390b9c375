# Every member-day is in the member-years (a byte per day, filled from this table by 0010 and kept by every rebuild
# since), and nothing read the table but the rebuild itself, which now makes a span's member-days in a temporary
# table: writing a busy year's 0.6-0.7 million rows with their key index was 3.4 s of a 7.2 s full rebuild. The table
# is derived, so dropping it loses nothing.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('analytics', '0011_member_day_index_by_member_dropped'),
    ]

    operations = [
        migrations.DeleteModel(
            name='MemberDay',
        ),
    ]
