import gzip

from django.db import migrations, models


def compress(apps, schema_editor):
    Collection = apps.get_model("finance", "Collection")
    for collection in Collection.objects.all():
        content = bytes(collection.file_gz)
        if content and not content.startswith(b"\x1f\x8b"):
            collection.file_gz = gzip.compress(content, 1)
            collection.save(update_fields=["file_gz"])


class Migration(migrations.Migration):
    dependencies = [("finance", "0012_sepa_direct_debit")]

    operations = [
        migrations.RenameField(model_name="collection", old_name="xml", new_name="file_gz"),
        migrations.AlterField(
            model_name="collection",
            name="file_gz",
            field=models.BinaryField(editable=False, verbose_name="pain.008 file (gzip)"),
        ),
        migrations.RunPython(compress, migrations.RunPython.noop),
    ]
