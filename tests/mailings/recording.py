"""A mailer for the real-worker test that plays the e-mail provider.

Each accepted message is written to a table through the worker's own database connection,
inside the transaction that marks the delivery sent: the "provider" and the register agree
on what was sent, whenever the worker is killed. A short pause per message stands for the
provider's network round trip, so that a kill usually lands in the middle of a send.
"""

import time

from django.core.mail.backends.base import BaseEmailBackend
from django.db import connection

TABLE = "test_provider_accepted"
CREATE = f"CREATE TABLE IF NOT EXISTS {TABLE} (delivery text, recipient text, message_id text)"


class EmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        for message in email_messages:
            time.sleep(0.01)
            metadata = getattr(message, "metadata", None) or {}
            with connection.cursor() as cursor:
                cursor.execute(
                    f"INSERT INTO {TABLE} VALUES (%s, %s, %s)",  # noqa: S608 - fixed table name
                    [
                        metadata.get("delivery", ""),
                        message.to[0],
                        message.extra_headers.get("Message-ID", ""),
                    ],
                )
        return len(email_messages)
