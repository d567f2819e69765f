"""The Belgian national register number (NRN): its mod-97 check, test numbers, and the keyed hash that is the
only form in which the desk ever stores it.

An NRN is 11 digits: birth date YYMMDD, a 3-digit day counter (odd for men, even for women) and a 2-digit
check, 97 - (first nine digits mod 97). For people born in 2000 or later the check is computed over "2"
followed by the nine digits, so a number alone does not say which rule applies: both are accepted.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from datetime import date
from pathlib import Path

KEY_BYTES = 32

_MILLENNIUM_PREFIX = 2_000_000_000


def _check_digits(body: int) -> int:
    return 97 - body % 97


def validate_nrn(s: str) -> bool:
    """Whether `s` is exactly 11 ASCII digits whose last two are the mod-97 check of the first nine."""
    if not isinstance(s, str) or len(s) != 11 or not s.isascii() or not s.isdigit():
        return False
    body, check = int(s[:9]), int(s[9:])
    return check in (_check_digits(body), _check_digits(_MILLENNIUM_PREFIX + body))


def make_test_nrn(birth: date, sequence: int) -> str:
    """A valid NRN for someone born on `birth` with day counter `sequence` (1..998), for tests and the demo."""
    if not 1 <= sequence <= 998:
        raise ValueError("sequence must be between 1 and 998")
    first9 = f"{birth:%y%m%d}{sequence:03d}"
    body = int(first9)
    if birth.year >= 2000:
        body += _MILLENNIUM_PREFIX
    return f"{first9}{_check_digits(body):02d}"


def nrn_hash(nrn: str, key: bytes) -> str:
    """Hex HMAC-SHA-256 of the NRN under the desk's secret: the form agents are enrolled and found by."""
    if len(key) < 16:
        raise ValueError("national-number key must hold at least 16 bytes")
    return hmac.new(key, nrn.encode("ascii"), hashlib.sha256).hexdigest()


def load_or_create_key(path: Path) -> bytes:
    """The HMAC key kept in `path` (32 random bytes, hex), created once with mode 0600.

    A new key would orphan every enrolment, so an existing file is never rewritten."""
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = secrets.token_bytes(KEY_BYTES)
        try:
            # O_EXCL: two processes starting at once must end up with one key, not two.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w", encoding="ascii") as out:
                out.write(key.hex() + "\n")
            return key
    try:
        key = bytes.fromhex(path.read_text("ascii").strip())
    except ValueError:
        raise ValueError(f"national-number key file {path} is not hex") from None
    if len(key) < 16:
        raise ValueError(f"national-number key file {path} holds fewer than 16 bytes")
    return key


def key_from_env(name: str, environ: dict[str, str] | None = None) -> bytes | None:
    """The HMAC key from environment variable `name` (hex, else its UTF-8 bytes); None when unset or empty."""
    value = (os.environ if environ is None else environ).get(name, "")
    if not value:
        return None
    try:
        key = bytes.fromhex(value)
    except ValueError:
        key = value.encode("utf-8")
    if len(key) < 16:
        raise ValueError(f"environment variable {name} holds fewer than 16 bytes")
    return key
