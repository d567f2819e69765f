"""The mail room: an SMTP outbox in the desk's database, sent and retried by one asyncio task.

Escalations and KB feedback are queued in the same transaction as the record they belong to, so a mail is never
lost: a failed send stays queued and is retried with back-off, and a restarted desk picks up what is queued.
"""

from .outbox import MailSettings, Outbox, OutgoingMail, RetryPolicy
from .smtp import PermanentSmtpError, TransientSmtpError, send_smtp

__all__ = [
    "MailSettings",
    "Outbox",
    "OutgoingMail",
    "PermanentSmtpError",
    "RetryPolicy",
    "TransientSmtpError",
    "send_smtp",
]
