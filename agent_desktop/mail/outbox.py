"""The outbox: mails queued as rows of `mail_outbox`, delivered by one asyncio task that retries with back-off.

`add(db, mail)` is a plain synchronous insert, so a store write job puts it in the same transaction as the
escalation it belongs to (then calls `wake()`); `await enqueue(mail)` queues a mail on its own. The task sends the due rows one at a time (smtplib in a worker thread), then sleeps until the next row is due or
`wake()` is called. A transient failure (no connection, 4xx) doubles the row's wait up to `max_s`; a permanent
refusal (5xx), and any other error with one row (a header that cannot be encoded, …), marks it `failed` and keeps
it, so one bad row never blocks the rows after it. Nothing is deleted: a sent row is the record of what went out.
A crash between the SMTP server's acceptance and the row's update sends the mail again after the restart, with
the same Message-ID: at least once, never lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import sqlite_utils

from ..store.clock import iso, parse_iso, utcnow
from ..store.store import Store
from ..store.tables import reads, writes
from .smtp import PermanentSmtpError, TlsMode, TransientSmtpError, send_smtp

log = logging.getLogger(__name__)

SendFn = Callable[[str, int, EmailMessage, float, TlsMode], object]


@dataclass(frozen=True)
class MailSettings:
    smtp_host: str
    smtp_port: int
    from_addr: str
    timeout_s: float = 10.0
    tls: TlsMode = "require"


@dataclass(frozen=True)
class RetryPolicy:
    first_s: float = 30.0
    max_s: float = 900.0

    def delay(self, attempts: int) -> float:
        """The wait after the `attempts`-th failed try (1, 2, …): first_s, doubled each time, capped."""
        return min(self.max_s, self.first_s * 2 ** max(0, attempts - 1))


@dataclass(frozen=True)
class OutgoingMail:
    kind: str  # escalation | feedback
    to: tuple[str, ...]
    subject: str
    body: str


class Outbox:
    def __init__(
        self,
        store: Store,
        settings: MailSettings,
        retry: RetryPolicy = RetryPolicy(),
        send: SendFn = send_smtp,
    ) -> None:
        self._store = store
        self._settings = settings
        self._retry = retry
        self._send = send
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None

    # -- queueing -------------------------------------------------------------------------------------------

    async def enqueue(self, mail: OutgoingMail) -> int:
        """Queue one mail (its own transaction) and wake the sender."""
        mail_id = await self._store.write(self.add, mail)
        self.wake()
        return mail_id

    @writes("mail_outbox")
    def add(self, db: sqlite_utils.Database, mail: OutgoingMail) -> int:
        """Insert the mail's row inside the caller's store write job; call wake() once that has landed."""
        if not mail.to:
            raise ValueError("a mail needs at least one recipient")
        domain = self._settings.from_addr.rpartition("@")[2] or "localhost"
        now = iso()
        row = {
            "kind": mail.kind,
            "to_addrs": json.dumps(list(mail.to)),
            "subject": mail.subject,
            "body": mail.body,
            "message_id": make_msgid(domain=domain),
            "status": "queued",
            "attempts": 0,
            "next_attempt": now,
            "created": now,
        }
        return int(db["mail_outbox"].insert(row).last_pk)

    def wake(self) -> None:
        """Look at the queue now (after an enqueue, or when a test knows the server is back)."""
        self._wake.set()

    async def get(self, mail_id: int) -> dict | None:
        return await self._store.read(_get, mail_id)

    # -- the sender task ----------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="mail-outbox")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def send_due(self) -> int:
        """Try every row that is due once; returns how many went out."""
        sent = 0
        now = iso()
        rows = await self._store.read(_due, now)
        for row in rows:
            if await self._try(row):
                sent += 1
        return sent

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.send_due()
            except Exception:  # a database error must not end the task: the queue is retried next round
                log.exception("mail outbox round failed")
            await self._sleep(await self._next_wait())

    async def _next_wait(self) -> float:
        due = await self._store.read(_next_due)
        if not due:
            return self._retry.max_s
        wait = (parse_iso(due) - utcnow()).total_seconds()
        return min(self._retry.max_s, max(0.05, wait))

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    async def _try(self, row: dict) -> bool:
        settings = self._settings
        try:
            message = self._message(row)
            # The thread's own socket timeout bounds the send; wait_for is a second fence around it.
            refused = await asyncio.wait_for(
                asyncio.to_thread(
                    self._send,
                    settings.smtp_host,
                    settings.smtp_port,
                    message,
                    settings.timeout_s,
                    settings.tls,
                ),
                settings.timeout_s * 3 + 5,
            )
        except PermanentSmtpError as exc:
            log.error("mail %s refused for good: %s", row["id"], exc)
            await self._fail(row, str(exc))
            return False
        except (TransientSmtpError, TimeoutError, OSError) as exc:
            attempts = row["attempts"] + 1
            delay = self._retry.delay(attempts)
            log.warning("mail %s not sent (try %s), retry in %.0f s: %s", row["id"], attempts, delay, exc)
            await self._store.write(
                _update,
                row["id"],
                {
                    "attempts": attempts,
                    "next_attempt": iso(utcnow() + dt.timedelta(seconds=delay)),
                    "last_error": str(exc)[:500],
                },
            )
            return False
        except Exception as exc:
            # Not a server's answer but this row itself (a header with a newline, an address smtplib cannot
            # encode, …): a retry would fail the same way, and left queued the row would be due again at once,
            # spinning the task and keeping the rows after it waiting. Failed, it is logged this once.
            log.exception("mail %s cannot be sent", row["id"])
            await self._fail(row, f"{type(exc).__name__}: {exc}")
            return False
        await self._store.write(
            _update,
            row["id"],
            {
                "status": "sent",
                "attempts": row["attempts"] + 1,
                "sent": iso(),
                "last_error": f"refused: {refused}"[:500] if refused else None,
            },
        )
        return True

    async def _fail(self, row: dict, error: str) -> None:
        await self._store.write(
            _update,
            row["id"],
            {"status": "failed", "attempts": row["attempts"] + 1, "last_error": error[:500]},
        )

    def _message(self, row: dict) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self._settings.from_addr
        message["To"] = ", ".join(json.loads(row["to_addrs"]))
        message["Subject"] = row["subject"]
        message["Date"] = formatdate(parse_iso(row["created"]).timestamp(), localtime=False)
        message["Message-ID"] = row["message_id"]
        message["X-Agent-Desktop-Kind"] = row["kind"]
        message.set_content(row["body"])
        return message


@reads("mail_outbox")
def _get(db: sqlite_utils.Database, mail_id: int) -> dict | None:
    rows = list(db.query("SELECT * FROM mail_outbox WHERE id = ?", [mail_id]))
    return rows[0] if rows else None


@reads("mail_outbox")
def _due(db: sqlite_utils.Database, now: str) -> list[dict]:
    return list(
        db.query("SELECT * FROM mail_outbox WHERE status = 'queued' AND next_attempt <= ? ORDER BY id", [now])
    )


@reads("mail_outbox")
def _next_due(db: sqlite_utils.Database) -> str | None:
    return db.execute("SELECT MIN(next_attempt) FROM mail_outbox WHERE status = 'queued'").fetchone()[0]


@writes("mail_outbox")
def _update(db: sqlite_utils.Database, mail_id: int, values: dict) -> None:
    db["mail_outbox"].update(mail_id, values)
