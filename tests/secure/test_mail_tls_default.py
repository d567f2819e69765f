"""`[mail] tls` defaults to `require`: a desk configured without the key never hands an escalation (citizens'
contact data) to an SMTP server that does not offer STARTTLS, keeps the mail queued, and says why. The demo's
local sink is configured with `tls = "none"` explicitly."""

from __future__ import annotations

import asyncio
import logging

import pytest

from agent_desktop.config import Config, ConfigError, parse_config
from agent_desktop.demo import DemoPorts, demo_config
from agent_desktop.mail import OutgoingMail
from agent_desktop.web.outbox_setup import OUTBOX
from tests.wrapup.desks import SmtpSink


def test_the_default_is_require_and_the_demo_says_none() -> None:
    assert Config().mail.tls == "require"
    demo = parse_config(demo_config(DemoPorts(), smtp_port=2525))
    assert demo.mail.tls == "none" and demo.mail.smtp_port == 2525
    assert parse_config(demo_config(DemoPorts())).mail.tls == "none"


async def test_default_config_refuses_a_server_without_starttls_and_says_why(
    make_desk, caplog: pytest.LogCaptureFixture
) -> None:
    sink = SmtpSink().start()  # aiosmtpd without TLS
    try:
        desk = await make_desk(
            f'[mail]\nsmtp_host = "127.0.0.1"\nsmtp_port = {sink.port}\nretry_first_s = 60\n'
        )
        outbox = desk.server.app[OUTBOX]
        with caplog.at_level(logging.WARNING, logger="agent_desktop.mail.outbox"):
            mail_id = await outbox.enqueue(
                OutgoingMail("escalation", ("team@example.be",), "Escalatie", "Jan Janssens, 0471 23 45 67")
            )
            async with asyncio.timeout(10):
                while (await outbox.get(mail_id))["attempts"] < 1:  # noqa: ASYNC110 - the outbox task owns the row
                    await asyncio.sleep(0.05)
        row = await outbox.get(mail_id)
        assert sink.messages == []
        assert row["status"] == "queued"  # kept for when the relay offers TLS: nothing is lost
        assert "does not offer STARTTLS" in row["last_error"] and "tls = 'require'" in row["last_error"]
        assert any("not sent in the clear" in r.getMessage() for r in caplog.records), caplog.text
    finally:
        sink.stop()


@pytest.mark.parametrize(
    "host", ["mail.example.be", "192.0.2.25", "10.1.2.3", "2001:db8::25", "localhost.evil.be"]
)
def test_tls_none_is_refused_for_a_relay_on_another_host(host: str) -> None:
    """`none` sends citizens' contact data in the clear: only to a relay on this very host, never over a network."""
    with pytest.raises(ConfigError, match=r"^\[mail\] tls: .*loopback") as refused:
        parse_config(f'[mail]\nsmtp_host = "{host}"\ntls = "none"\n')
    assert host in str(refused.value)
    assert parse_config(f'[mail]\nsmtp_host = "{host}"\ntls = "starttls"\n').mail.tls == "starttls"


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.53", "::1", "localhost", "LOCALHOST"])
def test_tls_none_is_accepted_for_a_relay_on_this_host(host: str) -> None:
    assert parse_config(f'[mail]\nsmtp_host = "{host}"\ntls = "none"\n').mail.tls == "none"
