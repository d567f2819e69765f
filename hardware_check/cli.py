"""`hardware-check` command: runs the preflight checks on this PC, prints a table with advice in the agent's
language (or the report JSON with --json), and with --upload posts the report to the desk and prints its id.

Exit codes: 0 all pass, 1 any warn or unknown, 2 any fail (DESIGN.md §6); 3 when --upload could not deliver
the report (the table/JSON was still printed). Usage errors exit 2 (argparse's convention).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable, Mapping
from typing import TextIO

import aiohttp

from hardware_check.report import Report, exit_code
from hardware_check.requirements import LANGS, load_requirements
from hardware_check.runner import RunOptions, run_checks

UPLOAD_FAILED = 3

STATUS_LABELS = {
    "nl": {"pass": "OK", "warn": "LET OP", "fail": "FOUT", "unknown": "ONBEKEND"},
    "fr": {"pass": "OK", "warn": "ATTENTION", "fail": "ÉCHEC", "unknown": "INCONNU"},
    "en": {"pass": "PASS", "warn": "WARN", "fail": "FAIL", "unknown": "UNKNOWN"},
}
MESSAGES = {
    "nl": {
        "title": "Agent Desktop – controle van uw pc",
        "overall": "Resultaat",
        "ping": "Netwerktest: vertraging meten ({done}/{total})…",
        "down": "Netwerktest: downloadsnelheid ({done}/{total})…",
        "up": "Netwerktest: uploadsnelheid ({done}/{total})…",
        "start": "Controle loopt…",
        "uploaded": "Rapportnummer: {id} (geef dit nummer aan de helpdesk)",
        "upload_failed": "Het rapport kon niet verstuurd worden: {error}",
    },
    "fr": {
        "title": "Agent Desktop – contrôle de votre PC",
        "overall": "Résultat",
        "ping": "Test réseau : mesure de la latence ({done}/{total})…",
        "down": "Test réseau : débit descendant ({done}/{total})…",
        "up": "Test réseau : débit montant ({done}/{total})…",
        "start": "Contrôle en cours…",
        "uploaded": "Numéro du rapport : {id} (communiquez ce numéro au helpdesk)",
        "upload_failed": "Le rapport n'a pas pu être envoyé : {error}",
    },
    "en": {
        "title": "Agent Desktop – PC check",
        "overall": "Result",
        "ping": "Network test: measuring round trip ({done}/{total})…",
        "down": "Network test: download speed ({done}/{total})…",
        "up": "Network test: upload speed ({done}/{total})…",
        "start": "Checking…",
        "uploaded": "Report number: {id} (give this number to the helpdesk)",
        "upload_failed": "The report could not be sent: {error}",
    },
}


def default_lang(environ: Mapping[str, str] = os.environ) -> str:
    """`nl_BE.UTF-8` → nl; anything that is not nl/fr/en → nl (the centre's default)."""
    code = environ.get("LANG", "")[:2].lower()
    return code if code in LANGS else "nl"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hardware-check", description="Check this PC against the Agent Desktop requirements."
    )
    p.add_argument(
        "--server",
        metavar="URL",
        help="desk address, e.g. https://desk.example.be (enables the network test)",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON (the browser page's format)")
    p.add_argument("--upload", action="store_true", help="send the report to the desk and print its number")
    p.add_argument(
        "--module", metavar="PATH", help="PKCS#11 module of the eID middleware (default: the Belgian eID one)"
    )
    p.add_argument("--token-label", default="BELPIC", help="token label of the eID card (default BELPIC)")
    p.add_argument("--lang", choices=LANGS, help="language of the advice (default from LANG, else nl)")
    return p


EID_LEVELS = {
    "nl": {"none": "geen lezer", "reader": "lezer, geen eID-kaart", "card": "eID-kaart leesbaar"},
    "fr": {"none": "pas de lecteur", "reader": "lecteur, pas de carte eID", "card": "carte eID lisible"},
    "en": {"none": "no reader", "reader": "reader, no eID card", "card": "eID card readable"},
}


def _value_text(value: object, unit: str, lang: str) -> str:
    if value is None:
        return "–"
    if unit == "state":
        return EID_LEVELS[lang].get(str(value), str(value))
    if isinstance(value, float):
        value = f"{value:g}"
    return f"{value} {unit}".strip()


def render_table(report: Report, lang: str) -> str:
    reqs = load_requirements()
    labels = STATUS_LABELS[lang]
    lines = [MESSAGES[lang]["title"], ""]
    width = max(len(label) for label in labels.values())
    for c in report.checks:
        req = reqs.get(c.name)
        lines.append(
            f"  {labels[c.status]:<{width}}  {req.title.get(lang):<28} {_value_text(c.value, c.unit, lang)}"
        )
        pad = " " * (width + 4)
        if c.status != "pass" and c.detail:
            lines.append(f"{pad}{c.detail}")
        if c.status in ("warn", "fail"):
            lines.append(f"{pad}→ {req.advice.get(lang)}")
    lines += ["", f"{MESSAGES[lang]['overall']}: {labels[report.overall]}"]
    return "\n".join(lines)


async def upload_report(server: str, report: Report, timeout_s: float = 15.0) -> str:
    """POST the report to the desk; returns its id or raises RuntimeError with a readable reason."""
    url = server.rstrip("/") + "/api/preflight/reports"
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as session:
            async with session.post(url, json=report.to_json()) as resp:
                text = await resp.text()
                if resp.status >= 400:
                    raise RuntimeError(f"HTTP {resp.status} from {url}: {text[:200]}")
                body = json.loads(text)
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise RuntimeError(f"{type(exc).__name__}: {exc} ({url})") from None
    except json.JSONDecodeError:
        raise RuntimeError(f"the desk's answer is not JSON ({url})") from None
    if not isinstance(body, dict) or not isinstance(body.get("id"), str | int):
        raise RuntimeError(f"the desk's answer has no id ({url})")
    return str(body["id"])


def _progress_printer(lang: str, err: TextIO) -> Callable[[str, int, int], None]:
    def progress(stage: str, done: int, total: int) -> None:
        template = MESSAGES[lang].get(stage)
        if template:
            print(template.format(done=done, total=total), file=err, flush=True)

    return progress


def main(argv: list[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    out, err = stdout or sys.stdout, stderr or sys.stderr
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.upload and not args.server:
        parser.error("--upload needs --server URL")
    lang = args.lang or default_lang()
    opts = RunOptions(server=args.server, module=args.module, token_label=args.token_label)

    async def run() -> tuple[Report, str | None, str | None]:
        print(MESSAGES[lang]["start"], file=err, flush=True)
        report = await run_checks(opts, _progress_printer(lang, err))
        report_id = upload_error = None
        if args.upload:
            try:
                report_id = await upload_report(args.server, report)
            except RuntimeError as exc:
                upload_error = str(exc)
        return report, report_id, upload_error

    report, report_id, upload_error = asyncio.run(run())
    if args.json:
        print(report.dumps(indent=2), file=out)
    else:
        print(render_table(report, lang), file=out)
    if report_id is not None:
        # With --json, stdout stays one JSON document; the id goes to stderr.
        print(MESSAGES[lang]["uploaded"].format(id=report_id), file=err if args.json else out)
    if upload_error is not None:
        print(MESSAGES[lang]["upload_failed"].format(error=upload_error), file=err)
        return UPLOAD_FAILED
    return exit_code(report)
