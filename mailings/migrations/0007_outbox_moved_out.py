# The outbox became its own app (outbox/). Its tables stay where they are: only Django's
# idea of which app owns them changes here, no row moves.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("mailings", "0006_editors_single_line_member_index"),
        ("outbox", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="OutboundAttachment"),
                migrations.DeleteModel(name="OutboundEmail"),
            ],
            database_operations=[],
        ),
    ]
