"""eID reader check: asks the eID room's PKCS#11 token access, in a child process with a timeout, whether a
reader is connected and a card with an Authentication certificate is readable.
pass: card with Authentication certificate; warn: reader without (usable) card; fail: no reader or no eID
middleware; unknown: the middleware hung or crashed, or the token access is not installed."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from hardware_check.checks.base import clip, row, unknown
from hardware_check.report import CheckResult

PROBE = Path(__file__).resolve().parent.parent / "eid_probe.py"
MACOS_MODULES = (
    "/Library/Belgium Identity Card/Pkcs11/beid-pkcs11.bundle/Contents/MacOS/libbeidpkcs11.dylib",
    "/usr/local/lib/beid-pkcs11.bundle/Contents/MacOS/libbeidpkcs11.dylib",
)
INSTALL_HINT = "install the Belgian eID software from eid.belgium.be"


def default_module(platform: str = sys.platform) -> str:
    """The Belgian eID middleware's PKCS#11 module for this OS."""
    if platform == "win32":
        return "beidpkcs11.dll"
    if platform == "darwin":
        return next((p for p in MACOS_MODULES if os.path.exists(p)), MACOS_MODULES[0])
    return "libbeidpkcs11.so.0"


@dataclass(frozen=True)
class ProbeOutcome:
    """What the child said: `data` (its JSON) or `failure` (why there is none)."""

    data: dict | None
    failure: str = ""


def _child_env() -> dict[str, str]:
    # The child runs as a script, so sys.path[0] is hardware_check/; make agent_desktop findable the same way
    # as here, after any PYTHONPATH the user set (tests put a stand-in token module there).
    env = dict(os.environ)
    spec = importlib.util.find_spec("agent_desktop")
    if spec is not None and spec.submodule_search_locations:
        root = str(Path(next(iter(spec.submodule_search_locations))).parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH", ""), root) if p)
    return env


async def run_probe(module: str, label: str, limit_s: float) -> ProbeOutcome:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(PROBE),
        "--module",
        module,
        "--label",
        label,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=_child_env(),
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), limit_s)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return ProbeOutcome(None, f"the eID middleware did not answer within {limit_s:g} s")
    for line in reversed(out.decode(errors="replace").splitlines()):
        if line.startswith("{"):
            try:
                return ProbeOutcome(json.loads(line))
            except json.JSONDecodeError:
                break
    tail = err.decode(errors="replace").strip().splitlines()[-1:] or [""]
    return ProbeOutcome(
        None, clip(f"the eID middleware crashed (exit code {proc.returncode}) {tail[0]}".strip(), 300)
    )


def judge_probe(outcome: ProbeOutcome, module: str) -> CheckResult:
    if outcome.data is None:
        return unknown("eid_reader", outcome.failure)
    data = outcome.data
    if not data.get("ok"):
        err = data.get("error") or {}
        code, message = str(err.get("code", "error")), str(err.get("message", ""))
        if code == "token_access_missing":
            return unknown("eid_reader", message)
        if code == "module_missing":
            return row("eid_reader", "none", f"no eID middleware: {message}; {INSTALL_HINT}")
        if code == "no_reader":
            return row("eid_reader", "none", "no card reader found")
        if code in ("no_card", "card_removed"):
            return row("eid_reader", "reader", "card reader found, but no card inserted")
        return row("eid_reader", "none", f"eID middleware error {code}: {message} (module {module})")
    readers = int(data.get("readers", 0))
    pinpad = "yes" if data.get("pinpad") else "no"
    if readers == 0:
        return row("eid_reader", "none", f"no card reader found (module {module})")
    if not data.get("token_present"):
        return row("eid_reader", "reader", f"{readers} reader(s), no card inserted; PIN pad: {pinpad}")
    if not data.get("has_auth_cert"):
        return row(
            "eid_reader",
            "reader",
            f"{readers} reader(s); a card is inserted but it holds no Authentication certificate: insert your eID card",
        )
    label = data.get("label") or "?"
    return row(
        "eid_reader",
        "card",
        f"{readers} reader(s); card {label!r} with Authentication certificate; PIN pad: {pinpad}",
    )


async def check_eid_reader(
    module: str | None = None, label: str = "BELPIC", limit_s: float = 20.0
) -> list[CheckResult]:
    path = module or default_module()
    try:
        outcome = await run_probe(path, label, limit_s)
    except OSError as exc:
        return [unknown("eid_reader", f"could not start the eID probe: {exc}")]
    return [judge_probe(outcome, path)]
