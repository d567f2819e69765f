"""`hardware-check`'s network test and upload against the real desk (not the CLI tests' stand-in): the same
endpoints, caps and report validation the browser page uses, and the helpdesk finds the uploaded report."""

from __future__ import annotations

from hardware_check.checks.network import check_network
from hardware_check.cli import upload_report
from hardware_check.report import Report, utc_now


async def test_cli_network_check_and_upload_reach_the_helpdesk(pf_desk):
    rows = await check_network(pf_desk.url)
    by_name = {r.name: r for r in rows}
    assert by_name["network_rtt"].status == "pass", by_name["network_rtt"].detail
    assert by_name["throughput_down"].status == "pass", by_name["throughput_down"].detail
    assert by_name["throughput_up"].status == "pass", by_name["throughput_up"].detail
    assert "4.46 MB moved" in by_name["throughput_down"].detail
    report = Report(source="cli", started=utc_now(), finished=utc_now(), checks=rows)

    report_id = await upload_report(pf_desk.url, report)

    async with pf_desk.client() as helpdesk:
        await pf_desk.login(helpdesk, "helpdesk")
        stored = await (await helpdesk.get(f"{pf_desk.url}/api/preflight/reports/{report_id}")).json()
    assert stored["source"] == "cli"
    assert stored["agent"] is None
    assert [c["name"] for c in stored["checks"]] == [r.name for r in rows]
