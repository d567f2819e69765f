"""The preflight requirements as data: one source for the `hardware-check` CLI and the browser page
(`GET /api/preflight/requirements`). Thresholds and advice live in `requirements.json` next to this module;
this module loads them, judges values against them and serialises them for the page.

Why these numbers (DESIGN.md §7 and the VoIP references):
- network_rtt pass ≤ 100 ms, warn ≤ 200 ms: ITU-T G.114 keeps one-way mouth-to-ear delay under 150 ms for
  "most applications"; the agent's leg is only part of it (desk → SIP trunk → PSTN, plus ~40 ms jitter buffer
  and ~25 ms packetisation/codec), so the home leg may spend ~50 ms one way (100 ms round trip). 200 ms round
  trip pushes mouth-to-ear past 150 ms towards G.114's 400 ms ceiling: usable, noticeable.
- network_jitter pass ≤ 20 ms, warn ≤ 40 ms: a browser's adaptive jitter buffer absorbs ~2× jitter at the cost
  of delay; 20 ms (one packet) costs ~40 ms, 40 ms costs ~80 ms and starts audible stretching.
- network_loss pass ≤ 1 %, warn ≤ 3 %: with G.711 + PLC (G.113 Bpl = 25.1) 1 % random loss costs ~3.6 R points,
  3 % ~10 (ITU-T G.107 Ie,eff), i.e. MOS stays ≥ 4.0 resp. ≈ 3.9 before delay is counted.
- throughput_down pass ≥ 2 Mbit/s (warn ≥ 1), throughput_up pass ≥ 1 Mbit/s (warn ≥ 0.5): one Opus/G.711 call
  needs ~40–90 kbit/s each way with IP/UDP/RTP/SRTP overhead; the margin is for the desk page, knowledge-base
  pages, and other people at home sharing the line (a plain DSL upstream is often ~1 Mbit/s).
- webrtc (estimated MOS, ITU-T G.107 E-model) pass ≥ 4.0 (R ≥ 80, "users satisfied" per G.107/G.109), warn
  ≥ 3.6 (R ≥ 70, "some users dissatisfied"); below, many users are dissatisfied.
- mic_test (speech level above the noise floor, dB) pass ≥ 15 dB, warn ≥ 6 dB: below ~15 dB SNR background
  noise is clearly heard by the citizen; below ~6 dB speech intelligibility drops.
- memory pass ≥ 3.5 GiB, warn ≥ 3.0 GiB: a "4 GB" PC reports 3.7–3.9 GiB to the OS (DESIGN.md §7).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any

DATA_FILE = Path(__file__).resolve().parent / "requirements.json"
LANGS = ("nl", "fr", "en")
STATUSES = ("pass", "warn", "fail", "unknown")


class Direction(StrEnum):
    HIGHER_IS_BETTER = "higher_is_better"
    LOWER_IS_BETTER = "lower_is_better"


@dataclass(frozen=True)
class Texts:
    """One short text in the three languages of the desk."""

    nl: str
    fr: str
    en: str

    def get(self, lang: str) -> str:
        return {"nl": self.nl, "fr": self.fr, "en": self.en}.get(lang, self.nl)

    def to_json(self) -> dict[str, str]:
        return {"nl": self.nl, "fr": self.fr, "en": self.en}


@dataclass(frozen=True)
class Requirement:
    """One check's bounds. `pass_` / `warn` are numbers for numeric checks; `[width, height]` for screen;
    `{family: min_major}` for browser; a level name for eid_reader (ordered by `levels`). `warn=None` means
    there is no warn band: below pass is fail."""

    name: str
    unit: str
    pass_: Any
    warn: Any
    direction: Direction
    advice: Texts
    title: Texts
    levels: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": self.name,
            "unit": self.unit,
            "pass": self.pass_,
            "warn": self.warn,
            "direction": self.direction.value,
            "title": self.title.to_json(),
            "advice": self.advice.to_json(),
        }
        if self.levels:
            body["levels"] = list(self.levels)
        return body


@dataclass(frozen=True)
class BrowserMajors:
    """Current stable majors as of a date; update this data when browsers release (every ~4 weeks)."""

    as_of: date
    chrome: int
    firefox: int


@dataclass(frozen=True)
class Requirements:
    """All requirements, in the contract's check order."""

    checks: tuple[Requirement, ...]
    browser_current: BrowserMajors

    def get(self, name: str) -> Requirement:
        for req in self.checks:
            if req.name == name:
                return req
        raise KeyError(f"unknown check name: {name!r}")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.checks)


# Every browser family we recognise, mapped to the release train whose major numbers it follows: Edge and
# Chromium share Chrome's major numbers.
BROWSER_TRAINS = {"chrome": "chrome", "chromium": "chrome", "edge": "chrome", "firefox": "firefox"}


def _texts(obj: dict[str, str]) -> Texts:
    return Texts(nl=obj["nl"], fr=obj["fr"], en=obj["en"])


def parse_requirements(data: dict[str, Any]) -> Requirements:
    """Build `Requirements` from the JSON data (exposed so a deployment could ship its own file)."""
    current = data["browser_current"]
    majors = BrowserMajors(
        as_of=date.fromisoformat(current["as_of"]),
        chrome=int(current["chrome"]),
        firefox=int(current["firefox"]),
    )
    checks = []
    for item in data["checks"]:
        pass_, warn = item["pass"], item["warn"]
        if item["name"] == "browser":
            # Current major or the one before pass; one further back warns; older fails.
            pass_ = {"chrome": majors.chrome - 1, "firefox": majors.firefox - 1}
            warn = {"chrome": majors.chrome - 2, "firefox": majors.firefox - 2}
        checks.append(
            Requirement(
                name=item["name"],
                unit=item["unit"],
                pass_=pass_,
                warn=warn,
                direction=Direction(item["direction"]),
                advice=_texts(item["advice"]),
                title=_texts(item["title"]),
                levels=tuple(item.get("levels", ())),
            )
        )
    return Requirements(checks=tuple(checks), browser_current=majors)


@cache
def load_requirements() -> Requirements:
    """The requirements shipped with the package (immutable, so caching the parse is safe)."""
    # A plain path, not importlib.resources: an editable install may see the package as a namespace package.
    text = DATA_FILE.read_text(encoding="utf-8")
    return parse_requirements(json.loads(text))


def check_names() -> tuple[str, ...]:
    return load_requirements().names


def requirements_json() -> dict[str, Any]:
    """The body of `GET /api/preflight/requirements`: `{checks: [{name, unit, pass, warn, advice, ...}]}`;
    `direction`, `title`, `levels` and `browser_current` are additions the page may use."""
    reqs = load_requirements()
    return {
        "checks": [r.to_json() for r in reqs.checks],
        "browser_current": {
            "as_of": reqs.browser_current.as_of.isoformat(),
            "chrome": reqs.browser_current.chrome,
            "firefox": reqs.browser_current.firefox,
        },
    }


def judge_number(req: Requirement, value: float) -> str:
    """Pass/warn/fail of a numeric value against a numeric requirement; NaN is `unknown`."""
    if math.isnan(value):
        return "unknown"
    better_or_equal = (
        (lambda a, b: a >= b) if req.direction is Direction.HIGHER_IS_BETTER else (lambda a, b: a <= b)
    )
    if better_or_equal(value, req.pass_):
        return "pass"
    if req.warn is not None and better_or_equal(value, req.warn):
        return "warn"
    return "fail"


def judge_screen(width: int, height: int) -> str:
    """Both device-pixel dimensions must reach the minimum (a 1920×700 screen still fails)."""
    min_w, min_h = load_requirements().get("screen").pass_
    return "pass" if width >= min_w and height >= min_h else "fail"


def judge_browser(family: str, major: int) -> str:
    """`family` is chrome, chromium, edge or firefox (case-insensitive); anything else fails."""
    req = load_requirements().get("browser")
    train = BROWSER_TRAINS.get(family.strip().lower())
    if train is None:
        return "fail"
    if major >= req.pass_[train]:
        return "pass"
    if major >= req.warn[train]:
        return "warn"
    return "fail"


def judge_eid(level: str) -> str:
    req = load_requirements().get("eid_reader")
    if level == req.pass_:
        return "pass"
    if level == req.warn:
        return "warn"
    return "fail" if level in req.levels else "unknown"


_SCREEN_RE = re.compile(r"^\s*(\d{1,6})\s*[x×]\s*(\d{1,6})\s*$")
_BROWSER_RE = re.compile(r"^\s*([A-Za-z]+)\s+(\d{1,4})(?:\.[\d.]*)?\s*$")


def parse_screen(value: Any) -> tuple[int, int] | None:
    """`"1920x1080"` or `[1920, 1080]` → (1920, 1080); None when unreadable."""
    if isinstance(value, list | tuple) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return int(value[0]), int(value[1])
    if isinstance(value, str) and (m := _SCREEN_RE.match(value)):
        return int(m.group(1)), int(m.group(2))
    return None


def parse_browser(value: Any) -> tuple[str, int] | None:
    """`"chrome 156"` / `"Firefox 152.0.1"` → (family, major); None when unreadable."""
    if isinstance(value, str) and (m := _BROWSER_RE.match(value)):
        return m.group(1).lower(), int(m.group(2))
    return None


_UA_PATTERNS = (
    ("edge", re.compile(r"\bEdg(?:e|A|iOS)?/(\d+)")),
    ("firefox", re.compile(r"\bFirefox/(\d+)")),
    ("chromium", re.compile(r"\bChromium/(\d+)")),
    ("chrome", re.compile(r"\bChrome/(\d+)")),
)
# Browsers that carry "Chrome/" in their user agent but are not supported (different release trains/policies).
_UA_OTHER = re.compile(r"\b(OPR|Opera|SamsungBrowser|YaBrowser|Vivaldi)/")


def browser_from_user_agent(user_agent: str) -> tuple[str, int] | None:
    """Family and major from a User-Agent header, for the server side; None for unsupported browsers."""
    if _UA_OTHER.search(user_agent):
        return None
    for family, pattern in _UA_PATTERNS:
        if m := pattern.search(user_agent):
            return family, int(m.group(1))
    return None


def evaluate(name: str, value: Any) -> str:
    """Status (`pass|warn|fail|unknown`) of `value` for check `name`. None or unreadable values are `unknown`;
    an unknown check name raises KeyError."""
    req = load_requirements().get(name)
    if value is None:
        return "unknown"
    if name == "screen":
        dims = parse_screen(value)
        return "unknown" if dims is None else judge_screen(*dims)
    if name == "browser":
        if isinstance(value, str) and value.strip() and parse_browser(value) is None:
            return "fail"  # a browser we do not recognise
        parsed = parse_browser(value)
        return "unknown" if parsed is None else judge_browser(*parsed)
    if name == "eid_reader":
        return judge_eid(value) if isinstance(value, str) else "unknown"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "unknown"
    return judge_number(req, float(value))
