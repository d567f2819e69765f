"""Hangs the mail outbox on the app (from `[mail]`) and runs its sender task between start-up and clean-up."""

from __future__ import annotations

from aiohttp import web

from ..mail import MailSettings, Outbox, RetryPolicy
from . import keys

OUTBOX = web.AppKey("outbox", Outbox)


def setup(app: web.Application) -> Outbox:
    mail = app[keys.CONFIG].mail
    outbox = Outbox(
        app[keys.STORE],
        MailSettings(mail.smtp_host, mail.smtp_port, mail.from_, mail.timeout_s, mail.tls),
        RetryPolicy(mail.retry_first_s, mail.retry_max_s),
    )
    app[OUTBOX] = outbox

    async def start(_app: web.Application) -> None:
        await outbox.start()

    async def stop(_app: web.Application) -> None:
        await outbox.stop()

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    return outbox
