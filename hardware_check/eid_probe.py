"""Child-process entry of the eID reader check: loads the PKCS#11 module, asks the eID room's token access for
the token status and prints one JSON line. It runs as a script (`python eid_probe.py --module PATH`), never
imported by the CLI process: PyKCS11 holds the GIL for a whole call and a broken middleware may crash or hang,
so the parent keeps a timeout and survives either."""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import sys


def emit(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def probe(module: str, label: str) -> dict:
    """The status as a JSON-able dict; errors as `{ok: false, error: {code, message}}`."""
    if os.path.isabs(module) and not os.path.exists(module):
        return {
            "ok": False,
            "error": {"code": "module_missing", "message": f"PKCS#11 module not found: {module}"},
        }
    try:
        # Loading it here first gives a clear "not installed" apart from token errors.
        ctypes.CDLL(module)
    except OSError as exc:
        return {
            "ok": False,
            "error": {"code": "module_missing", "message": f"PKCS#11 module not loadable: {exc}"},
        }
    try:
        from agent_desktop.eid.token import token_status
    except ImportError as exc:
        return {
            "ok": False,
            "error": {"code": "token_access_missing", "message": f"eID token access unavailable: {exc}"},
        }
    try:
        st = token_status(module, label)
    except Exception as exc:  # noqa: BLE001 - EidError or a PyKCS11 error: both are reported, not raised
        code = getattr(exc, "code", None) or type(exc).__name__
        message = getattr(exc, "message", None) or str(exc)
        return {"ok": False, "error": {"code": str(code), "message": str(message)}}
    return {
        "ok": True,
        "readers": int(st.readers),
        "token_present": bool(st.token_present),
        "pinpad": bool(st.pinpad),
        "label": st.label,
        "has_auth_cert": bool(st.has_auth_cert),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="print the eID token status as JSON")
    parser.add_argument("--module", required=True)
    parser.add_argument("--label", default="BELPIC")
    args = parser.parse_args(argv)
    emit(probe(args.module, args.label))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
