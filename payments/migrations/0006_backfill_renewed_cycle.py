from datetime import timedelta

from django.db import migrations


def backfill(apps, schema_editor):
    """Renewals paid before ``renewed_cycle`` existed: the cycle a renewal opened starts the day after the one it
    closed (certifications.renewals.certification_renew)."""
    OrderLine = apps.get_model("payments", "OrderLine")
    Cycle = apps.get_model("certifications", "Cycle")
    lines = OrderLine.objects.filter(kind="renewal", renewed_cycle__isnull=True,
                                     order__state__in=["paid", "refunded"]).select_related("cycle")
    for line in lines.iterator():
        opened = Cycle.objects.filter(certification_id=line.certification_id,
                                      start=line.cycle.end + timedelta(days=1)).first()
        if opened is not None:
            OrderLine.objects.filter(pk=line.pk).update(renewed_cycle=opened)


class Migration(migrations.Migration):
    dependencies = [("payments", "0005_order_receipt_claim")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
