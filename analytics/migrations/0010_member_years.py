# Member-years are derived from the member-days the KPI job already keeps: they are filled here, so active-member
# figures stay exact from the moment the readers switch to them, without waiting for a rebuild.

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


def member_years_from_member_days(apps, schema_editor):
    MemberDay = apps.get_model("analytics", "MemberDay")
    MemberYear = apps.get_model("analytics", "MemberYear")
    years = {}
    member_days = MemberDay.objects.order_by().values_list("tenant_id", "member_id", "group_id", "day")
    for tenant_id, member_id, group_id, day in member_days.iterator(chunk_size=10_000):
        _, days = years.setdefault((tenant_id, day.year, member_id), (group_id, bytearray(b"0" * 366)))
        days[day.timetuple().tm_yday - 1] = ord("1")
    MemberYear.objects.bulk_create(
        (
            MemberYear(tenant_id=tenant_id, year=year, member_id=member_id, group_id=group_id, days=bytes(days))
            for (tenant_id, year, member_id), (group_id, days) in years.items()
        ),
        batch_size=2000,
    )


class Migration(migrations.Migration):

    dependencies = [
        ('analytics', '0009_retention_cells_intent_revenue'),
        ('groups', '0003_message_indexes_covered_by_composites'),
        ('tenants', '0003_tenant_wording_invitation'),
    ]

    operations = [
        migrations.CreateModel(
            name='MemberYear',
            fields=[
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                ('pk', models.CompositePrimaryKey('tenant', 'year', 'member', blank=True, editable=False, primary_key=True, serialize=False)),
                ('year', models.PositiveSmallIntegerField()),
                ('days', models.BinaryField(max_length=366)),
                ('group', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='groups.group')),
                ('member', models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='groups.member')),
                ('tenant', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenants.tenant')),
            ],
            options={
                'abstract': False,
            },
        ),
        migrations.RunPython(member_years_from_member_days, migrations.RunPython.noop),
    ]
