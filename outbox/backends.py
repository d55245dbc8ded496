"""A development mailer that writes each e-mail as readable text, one file per message."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone
from django.utils.crypto import get_random_string


class ReadableFileBackend(BaseEmailBackend):
    """Writes `<time>-<subject>.txt` with the headers, the plain text and the HTML part.

    Django's file backend writes the raw MIME message, where links are broken by
    quoted-printable line wraps; a newcomer trying `make run` should be able to click them.
    """

    def __init__(self, *, file_path: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.directory = Path(file_path)

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        self.directory.mkdir(parents=True, exist_ok=True)
        for message in email_messages:
            stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
            stem = f"{stamp}-{get_random_string(6)}"
            text = self.format(message)
            for filename, content, _mimetype in getattr(message, "attachments", []):
                saved = f"{stem}-{Path(filename).name}"
                (self.directory / saved).write_bytes(
                    content if isinstance(content, bytes) else content.encode()
                )
                text += f"\n----- attachment: {filename}, saved as {saved} -----\n"
            (self.directory / f"{stem}.txt").write_text(text, encoding="utf-8")
        return len(email_messages)

    @staticmethod
    def format(message: EmailMessage) -> str:
        lines = [
            f"From: {message.from_email}",
            f"To: {', '.join(message.to)}",
            f"Subject: {message.subject}",
            *(f"Reply-To: {a}" for a in message.reply_to),
            *(f"{name}: {value}" for name, value in message.extra_headers.items()),
            "",
            str(message.body),
        ]
        for content, mimetype in getattr(message, "alternatives", []):
            lines += ["", f"----- {mimetype} -----", str(content)]
        return "\n".join(lines) + "\n"
