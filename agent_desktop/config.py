"""Configuration: a TOML file read into frozen dataclasses.

Defaults in code are production-safe (no trust anchor, OCSP required against the Belgian responders); the demo's
values live in the demo config that `make run` writes. Unknown keys and values of the wrong type stop start-up with
a message that names the key, because a typo in a contact centre's config must not silently fall back to a default.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from .sip.addresses import family_of, is_ip, network, plain, split_host_port

ENV_CONFIG = "AGENT_DESKTOP_CONFIG"
DEMO_CONFIG = Path("var/demo/desk.toml")


class ConfigError(Exception):
    """A config problem; the message names the key (e.g. `[server] port`)."""


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = "http://127.0.0.1:8080"
    session_idle_timeout_s: int = 12 * 3600
    # An agent whose WebSocket drops keeps their state (and later their call) this long before going offline.
    reconnect_grace_s: int = 60
    heartbeat_s: int = 25
    # The logged-in /api/ per session (web/session_limit.py): this many requests at once, then this many a second.
    # A desk load asks about 10, the reports page 6 (4 heavy: 42), an agent typing a KB search one per key: a
    # dozen "show" clicks at once on the reports page fit; a loop is refused within a second.
    api_burst: int = 600
    api_per_s: float = 20.0
    # Addresses or networks of TLS-terminating proxies whose X-Forwarded-For is believed.
    trusted_proxies: tuple[str, ...] = ()


@dataclass(frozen=True)
class DatabaseConfig:
    path: str = "var/desk.db"
    # How long a read on the event loop waits for a lock (WAL readers almost never do): the longest it may
    # stall calls and pages. Writes never time out: the store's writer thread waits for the lock.
    busy_timeout_ms: int = 20


@dataclass(frozen=True)
class SipConfig:
    listen: str = "127.0.0.1:5060"  # "HOST:PORT"; IPv6 as "[::]:5060" (dual stack) or "[::1]:5060"
    # Address(es) written in Via/Contact/SDP: one, or a list of at most one IPv4 and one IPv6 (a dual-stack desk
    # behind NAT); unset: the listen host, or when that is a wildcard the local address routed to each peer.
    advertise: str | tuple[str, ...] = ""
    rtp_ports: tuple[int, int] = (40000, 40999)
    caller_id: str = ""
    trunk_uri: str = ""
    username: str = ""
    password_env: str = ""
    ring_timeout_s: int = 32  # 8 Belgian rings (1 s on, 3 s off), DESIGN.md §11
    hold_music: str = ""
    # Addresses or CIDRs whose requests other than OPTIONS are served (others get 403); unset: the trunk's and
    # registrar's addresses, or loopback when neither is set (an empty list is the same). The trunk and registrar
    # are always served.
    allowed_sources: tuple[str, ...] = ()
    tcp_max_per_ip: int = 32
    tcp_max_total: int = 1000
    tcp_idle_s: float = 120.0


@dataclass(frozen=True)
class IceServer:
    urls: str | tuple[str, ...] = ""
    username: str = ""
    credential_env: str = ""


@dataclass(frozen=True)
class WebRtcConfig:
    ice_servers: tuple[IceServer, ...] = ()
    host_addresses: tuple[str, ...] = ()
    # The environment variable holding the TURN server's shared secret (coturn `static-auth-secret`): TURN entries
    # without `credential_env` then get time-limited credentials, per agent, valid `turn_credential_ttl_s`. An hour
    # is enough for a whole shift: the page asks for fresh ones (`rtc.ice_servers`) before each new offer, and a
    # live allocation keeps refreshing after its credential expired.
    turn_secret_env: str = ""
    turn_credential_ttl_s: int = 3600
    # "relay" makes the agents' browsers send media only through TURN (their address stays hidden from the desk's
    # peer; a network that allows only the TURN server). The desk's own peers keep "all".
    ice_transport_policy: Literal["all", "relay"] = "all"


@dataclass(frozen=True)
class EidConfig:
    trust_anchors: str = ""
    ocsp: Literal["required", "optional", "off"] = "required"
    ocsp_responders: tuple[str, ...] = ("http://ocsp.eid.belgium.be",)
    ocsp_timeout_s: float = 5.0
    bridge_port: int = 35963
    nrn_key_env: str = ""
    nrn_key_file: str = "var/secrets/nrn.key"
    # Used by `agent-desktop eid-bridge` when no --module/--token-label is given.
    bridge_module: str = "libbeidpkcs11.so.0"
    bridge_token_label: str = "BELPIC"
    # The second login path (DESIGN.md §1): the request header in which a TLS-terminating proxy of
    # `[server] trusted_proxies` forwards the client certificate it received (nginx `$ssl_client_escaped_cert`).
    # "" (default): off, and the header is never read.
    client_cert_header: str = ""
    # Where that proxy says whether the TLS session of the request was resumed (nginx `$ssl_session_reused`: "r"
    # resumed, "." full handshake; HAProxy `%[ssl_fc_is_resumed]`: 1/0). A resumed session carries the certificate
    # of an earlier handshake, not a new PIN entry, so the login is refused unless this header says "full
    # handshake"; absent counts as not proven. "" turns the check off (a proxy that never resumes and cannot say).
    tls_session_reused_header: str = "X-SSL-Session-Reused"


@dataclass(frozen=True)
class MailConfig:
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    from_: str = "agent-desktop@localhost"
    editors: tuple[str, ...] = ()
    # The outbox retries a failed send after retry_first_s, doubling up to retry_max_s; each SMTP step waits
    # at most timeout_s.
    retry_first_s: float = 30.0
    retry_max_s: float = 900.0
    timeout_s: float = 10.0
    # STARTTLS with a checked certificate: "require" never in the clear (escalations carry citizens' contact
    # data, and an attacker on the path can strip an optional upgrade), "starttls" when the server offers it,
    # "none" never (a local sink on the same host, as in the demo).
    tls: Literal["starttls", "none", "require"] = "require"


def _is_loopback_host(host: str) -> bool:
    """127/8, ::1 or the name localhost (RFC 6761: never resolved elsewhere)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(plain(host)).is_loopback  # `::ffff:127.0.0.1`, `0:0:0:0:0:0:0:1` too
    except ValueError:
        return False


@dataclass(frozen=True)
class WrapupConfig:
    outcomes: tuple[str, ...] = ("answered", "escalated", "callback", "no_answer_possible", "wrong_number")


@dataclass(frozen=True)
class QueueConfig:
    """One `[[queues]]` table (DESIGN.md §9). Prompt keys name files in `[prompts] dir`; "" means no prompt."""

    name: str = ""
    number: str | tuple[str, ...] = ()  # dialled numbers (Request-URI user part); "*" = every other number
    skills: tuple[str, ...] = ()
    priority: int = 0
    open: tuple[str, ...] = ()  # [] = always open
    timezone: str = "Europe/Brussels"
    holidays: Literal["be", "none"] = "be"
    closed_dates: tuple[str, ...] = ()
    welcome: str = ""
    hold_music: str = ""
    wait_message: str = ""
    wait_message_every_s: int = 60
    callback_offer: str = ""
    callback_confirmed: str = ""
    callback_offer_after_s: int = 150
    callback_due_working_days: int = 2
    callback_attempts: int = 3
    overflow_to: str = ""
    overflow_after_s: int = 180
    max_waiting: int = 0
    closed: str = ""
    closed_to: str = ""
    no_agents: Literal["closed", "queue"] = "closed"
    service_level_s: int = 20
    service_level_target: float = 0.8
    min_agents: int = 1
    # §10: the bridged conversation is recorded; the caller hears `recording_notice` first (required then).
    record: bool = False
    recording_notice: str = ""
    # The queue's name for people, per page language (`{ nl = "Crisislijn", fr = "Ligne de crise" }`), or one
    # string for every language; none: the pages' dictionaries (`phone.queue.<name>`), else the name itself.
    label: dict[str, str] | str = field(default_factory=dict)

    @property
    def numbers(self) -> tuple[str, ...]:
        return (self.number,) if isinstance(self.number, str) else self.number

    @property
    def labels(self) -> dict[str, str]:
        """`label` as language -> text (a plain string counts as Dutch, the pages' fallback language)."""
        if isinstance(self.label, str):
            return {"nl": self.label} if self.label else {}
        return dict(self.label)

    def prompt_keys(self) -> dict[str, str]:
        """key -> file name of every prompt this queue names (empty ones left out)."""
        keys = (
            "welcome",
            "hold_music",
            "wait_message",
            "callback_offer",
            "callback_confirmed",
            "closed",
            "recording_notice",
        )
        return {key: getattr(self, key) for key in keys if getattr(self, key)}


@dataclass(frozen=True)
class MenuConfig:
    """One `[[menus]]` table: a number answered with a prompt whose digit picks a queue."""

    number: str | tuple[str, ...] = ()
    prompt: str = ""
    options: dict[str, str] = field(default_factory=dict)  # digit -> queue name
    timeout_s: float = 8.0
    repeat: int = 2
    default: str = ""

    @property
    def numbers(self) -> tuple[str, ...]:
        return (self.number,) if isinstance(self.number, str) else self.number


@dataclass(frozen=True)
class PromptsConfig:
    dir: str = "prompts"  # relative to the config file


@dataclass(frozen=True)
class AcdConfig:
    # How long a call rings for one agent before it goes to the next available one.
    offer_timeout_s: float = 20.0
    # A callback not reached is pending again after this long.
    callback_retry_after_min: int = 60
    # Agents in `available` also get call orders while no caller waits for them (DESIGN.md §11).
    blend: bool = False
    # A dial of an order or callback that never reached the citizen's phone (no route, unresolved trunk, no answer
    # to the INVITE, the network's refusal) counts no attempt: due again after this many seconds, doubled per
    # consecutive failure (at most the list's or callbacks' retry delay) ...
    dial_retry_s: int = 120
    # ... and failed after this many consecutive ones (a destination the trunk refuses for good) once the first of
    # them is this many hours old (a trunk outage ends nothing).
    dial_failures_max: int = 5
    dial_failures_window_h: float = 24
    # The trunk watch (acd/trunk_watch.py): this many outbound dials in a row (orders, callbacks, typed numbers)
    # that failed on the network within `trunk_down_within_s` mean the trunk is down: no order or callback is
    # offered, the wall says so, and the trunk is probed (OPTIONS) every `trunk_probe_s`, doubled per probe or
    # trial dial that fails again (at most 10 minutes).
    trunk_down_after: int = 3
    trunk_down_within_s: float = 300
    trunk_probe_s: float = 30


@dataclass(frozen=True)
class KbConfig:
    backend: Literal["sqlite", "http"] = "sqlite"
    path: str = "var/kb.db"
    url: str = ""
    token_env: str = ""
    api_tokens_env: str = ""


@dataclass(frozen=True)
class RecordingsConfig:
    """DESIGN.md §10: where recorded calls are kept, for how long, and the criteria of the scoring form."""

    dir: str = "var/recordings"  # relative to the config file
    retention_days: int = 30
    score_criteria: tuple[str, ...] = ("greeting", "information", "politeness", "closing")


@dataclass(frozen=True)
class SurveyConfig:
    """DESIGN.md §10: the satisfaction survey a caller is handed to by `call.survey`. Prompt files in
    `[prompts] dir`; each question is answered 1-10 by one digit (0 = 10)."""

    questions: tuple[str, ...] = ()
    thanks: str = ""
    timeout_s: float = 8.0  # from a question's end; no digit by then: the answer is null


@dataclass(frozen=True)
class Config:
    server: ServerConfig = field(default_factory=ServerConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    sip: SipConfig = field(default_factory=SipConfig)
    webrtc: WebRtcConfig = field(default_factory=WebRtcConfig)
    eid: EidConfig = field(default_factory=EidConfig)
    mail: MailConfig = field(default_factory=MailConfig)
    wrapup: WrapupConfig = field(default_factory=WrapupConfig)
    queues: tuple[QueueConfig, ...] = ()
    menus: tuple[MenuConfig, ...] = ()
    prompts: PromptsConfig = field(default_factory=PromptsConfig)
    acd: AcdConfig = field(default_factory=AcdConfig)
    kb: KbConfig = field(default_factory=KbConfig)
    recordings: RecordingsConfig = field(default_factory=RecordingsConfig)
    survey: SurveyConfig = field(default_factory=SurveyConfig)
    # Relative paths in the file are taken from here: the config file's folder.
    base_dir: str = "."

    def path(self, value: str) -> Path:
        """A path from the config, resolved against base_dir when relative."""
        p = Path(value)
        return p if p.is_absolute() else Path(self.base_dir) / p

    @property
    def origin(self) -> str:
        return normalise_origin(self.server.public_url)

    @property
    def timezone(self) -> str:
        """The centre's clock, in which pages show times (opening hours, callbacks' due, orders' calling hours
        are the centre's, wherever the agent's PC is): the queues' timezone when they share one, else
        Europe/Brussels (the agents' report's zone too)."""
        zones = {q.timezone for q in self.queues}
        return zones.pop() if len(zones) == 1 else "Europe/Brussels"


def normalise_origin(url: str) -> str:
    """scheme://host[:port], lower-case, default ports dropped: the origin the browser puts in `Origin`."""
    from urllib.parse import urlsplit

    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"[server] public_url: {url!r} is not an http(s) URL")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    default = {"http": 80, "https": 443}[parts.scheme]
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


# -- loading -------------------------------------------------------------------------------------------------

_TOML_NAMES = {"from_": "from"}


def _convert(value: Any, tp: Any, where: str) -> Any:
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin is Literal:
        if value not in get_args(tp):
            allowed = " | ".join(repr(a) for a in get_args(tp))
            raise ConfigError(f"{where}: {value!r} is not one of {allowed}")
        return value
    if origin in (typing.Union, types.UnionType):
        errors = []
        for arg in get_args(tp):
            try:
                return _convert(value, arg, where)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(f"{where}: {value!r} has the wrong type")
    if origin is tuple:
        args = get_args(tp)
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected a list, got {type(value).__name__}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise ConfigError(f"{where}: expected a list of {len(args)} items")
        return tuple(
            _convert(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args, strict=True))
        )
    if origin is dict:
        key_type, value_type = get_args(tp)
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a table")
        return {
            _convert(k, key_type, where): _convert(v, value_type, f"{where} {k}") for k, v in value.items()
        }
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a table")
        return _build(tp, value, where)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    raise ConfigError(f"{where}: unsupported type")  # pragma: no cover - a programming error


def _build(cls: type, table: dict, where: str) -> Any:
    hints = typing.get_type_hints(cls)
    fields = {_TOML_NAMES.get(f.name, f.name): f for f in dataclasses.fields(cls) if f.name != "base_dir"}
    kwargs = {}
    for key, value in table.items():
        f = fields.get(key)
        if f is None:
            raise ConfigError(f"{where} {key}: unknown key (known: {', '.join(sorted(fields))})".strip())
        kwargs[f.name] = _convert(value, hints[f.name], f"{where} {key}".strip())
    return cls(**kwargs)


_ARRAYS: dict[str, type] = {"queues": QueueConfig, "menus": MenuConfig}


def parse_config(text: str, base_dir: str = ".") -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config is not valid TOML: {e}") from e
    sections = {}
    hints = typing.get_type_hints(Config)
    for key, value in data.items():
        if key == "base_dir" or key not in hints:
            raise ConfigError(
                f"[{key}]: unknown section (known: {', '.join(sorted(h for h in hints if h != 'base_dir'))})"
            )
        if key in _ARRAYS:
            if not isinstance(value, list):
                raise ConfigError(f"[[{key}]]: expected an array of tables")
            sections[key] = tuple(_build(_ARRAYS[key], q, f"[[{key}]][{i}]") for i, q in enumerate(value))
        else:
            if not isinstance(value, dict):
                raise ConfigError(f"[{key}]: expected a table")
            sections[key] = _build(hints[key], value, f"[{key}]")
    config = Config(**sections, base_dir=base_dir)
    _check(config)
    return config


def _check(config: Config) -> None:
    normalise_origin(config.server.public_url)
    for name, port in (("[server] port", config.server.port), ("[eid] bridge_port", config.eid.bridge_port)):
        if not 0 <= port <= 65535:
            raise ConfigError(f"{name}: {port} is not a TCP port")
    first, last = config.sip.rtp_ports
    if not (1024 <= first <= last <= 65535):
        raise ConfigError(f"[sip] rtp_ports: {list(config.sip.rtp_ports)} is not a range of ports above 1023")
    if not 0 <= config.database.busy_timeout_ms <= 1000:
        raise ConfigError(
            f"[database] busy_timeout_ms: {config.database.busy_timeout_ms} is not 0–1000 (it stalls the event loop)"
        )
    if config.server.api_burst < 10 or not config.server.api_per_s > 0:  # 10: an export's cost
        raise ConfigError(
            f"[server] api_burst {config.server.api_burst}, api_per_s {config.server.api_per_s}: "
            "at least 10 (an export's cost) and above 0"
        )
    try:
        split_host_port(config.sip.listen)
    except ValueError as exc:
        raise ConfigError(f'[sip] listen: {exc} (HOST:PORT, an IPv6 host in brackets: "[::]:5060")') from None
    _check_sip_sources(config.sip)
    for net in config.server.trusted_proxies:
        try:
            network(net)  # web/forwarded.py's own reading
        except ValueError:
            raise ConfigError(f"[server] trusted_proxies: {net!r} is not an address or network") from None
    _check_client_cert_header(config)
    if config.kb.backend == "http" and not config.kb.url:
        raise ConfigError("[kb] url: required when backend = 'http'")
    if not 60 <= config.webrtc.turn_credential_ttl_s <= 7 * 86400:
        raise ConfigError(
            f"[webrtc] turn_credential_ttl_s: {config.webrtc.turn_credential_ttl_s} is not between 60 and 604800"
        )
    if config.mail.tls == "none" and not _is_loopback_host(config.mail.smtp_host):
        raise ConfigError(
            f'[mail] tls: "none" sends mail in the clear, allowed only for a relay on this host (a loopback '
            f'smtp_host), not {config.mail.smtp_host!r}: use "require" (or "starttls")'
        )
    if not 1 <= config.acd.dial_retry_s <= 86400:
        raise ConfigError(f"[acd] dial_retry_s: {config.acd.dial_retry_s} is not 1–86400 seconds")
    if not 1 <= config.acd.dial_failures_max <= 100:
        raise ConfigError(f"[acd] dial_failures_max: {config.acd.dial_failures_max} is not 1–100")
    if not 0 <= config.acd.dial_failures_window_h <= 720:
        raise ConfigError(
            f"[acd] dial_failures_window_h: {config.acd.dial_failures_window_h} is not 0–720 hours"
        )
    if not 1 <= config.acd.trunk_down_after <= 100:
        raise ConfigError(f"[acd] trunk_down_after: {config.acd.trunk_down_after} is not 1–100")
    if not 1 <= config.acd.trunk_down_within_s <= 86400:
        raise ConfigError(
            f"[acd] trunk_down_within_s: {config.acd.trunk_down_within_s} is not 1–86400 seconds"
        )
    if not 0.1 <= config.acd.trunk_probe_s <= 600:
        raise ConfigError(f"[acd] trunk_probe_s: {config.acd.trunk_probe_s} is not 0.1–600 seconds")
    _check_recordings(config.recordings)
    _check_survey(config.survey)
    _check_queues(config)


_HOST_NAME = re.compile(
    r"(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?"
)
_HEADER_NAME = re.compile(r"[A-Za-z0-9-]{1,64}")
# Headers a client or aiohttp itself fills in: a certificate header must be one the proxy alone sets.
_RESERVED_HEADERS = {
    "authorization",
    "content-length",
    "content-type",
    "cookie",
    "host",
    "origin",
    "referer",
    "user-agent",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "forwarded",
    "transfer-encoding",
    "connection",
}


def _check_proxy_header(key: str, name: str, example: str) -> None:
    # A plain token: every proxy can set it, and nginx would drop a client's header with '_' in it by default.
    if not _HEADER_NAME.fullmatch(name) or name.lower() in _RESERVED_HEADERS:
        raise ConfigError(
            f"[eid] {key}: {name!r} is not a header name of letters, digits and '-' that only the "
            f'proxy sets (e.g. "{example}")'
        )


def _check_client_cert_header(config: Config) -> None:
    name = config.eid.client_cert_header
    if not name:
        return
    _check_proxy_header("client_cert_header", name, "X-SSL-Client-Cert")
    reused = config.eid.tls_session_reused_header
    if reused:
        _check_proxy_header("tls_session_reused_header", reused, "X-SSL-Session-Reused")
        if reused.lower() == name.lower():
            raise ConfigError(
                "[eid] tls_session_reused_header: must differ from client_cert_header (one header, one value)"
            )
    if not config.server.trusted_proxies:
        raise ConfigError(
            "[eid] client_cert_header: needs [server] trusted_proxies, the proxies whose certificate header is "
            "believed (from anyone else it is ignored)"
        )


_CRITERION = re.compile(r"[a-z][a-z0-9_]{0,39}")


def _check_recordings(rec: RecordingsConfig) -> None:
    if not 1 <= rec.retention_days <= 3650:
        raise ConfigError(f"[recordings] retention_days: {rec.retention_days} is not 1–3650 days")
    if not rec.dir.strip():
        raise ConfigError("[recordings] dir: must name a folder")
    if not rec.score_criteria:
        raise ConfigError("[recordings] score_criteria: name at least one criterion")
    for name in rec.score_criteria:
        if not _CRITERION.fullmatch(name):
            raise ConfigError(
                f"[recordings] score_criteria: {name!r} is not a name of lower-case letters, digits and _ "
                "(at most 40, starting with a letter)"
            )
    if len(set(rec.score_criteria)) != len(rec.score_criteria):
        raise ConfigError("[recordings] score_criteria: a criterion is named twice")


def _check_survey(survey: SurveyConfig) -> None:
    if not 1 <= survey.timeout_s <= 60:
        raise ConfigError(f"[survey] timeout_s: {survey.timeout_s:g} is not 1–60 seconds")
    if len(survey.questions) > 20:
        raise ConfigError("[survey] questions: at most 20 questions")
    for i, name in enumerate(survey.questions):
        if not name.strip():
            raise ConfigError(f"[survey] questions[{i}]: must name a prompt file")


def _check_queues(config: Config) -> None:
    """What a manager can get wrong in §9's queues and menus, each named by its key. Prompt files are checked
    (and decoded) when the desk builds its queues, not here: the config is readable without them."""
    from .acd.opening_hours import OpeningHours

    names: set[str] = set()
    numbers: dict[str, str] = {}

    def claim(number: str, where: str) -> None:
        if not number or not all(ch.isdigit() or ch in "+*#" for ch in number):
            raise ConfigError(f'{where} number: {number!r} is not a dialled number (digits, + * #) or "*"')
        if number in numbers:
            raise ConfigError(f"{where} number: {number!r} is already taken by {numbers[number]}")
        numbers[number] = where

    for i, queue in enumerate(config.queues):
        where = f"[[queues]][{i}]"
        if not queue.name:
            raise ConfigError(f"{where} name: required")
        if queue.name in names:
            raise ConfigError(f"{where} name: {queue.name!r} is used by another queue")
        names.add(queue.name)
        for number in queue.numbers:
            claim(number, where)
        try:
            OpeningHours.from_config(queue.open, queue.timezone, queue.holidays, queue.closed_dates, where)
        except ValueError as e:
            raise ConfigError(str(e)) from None
        for key in (
            "wait_message_every_s",
            "callback_offer_after_s",
            "overflow_after_s",
            "max_waiting",
            "service_level_s",
            "min_agents",
            "callback_due_working_days",
            "callback_attempts",
        ):
            if getattr(queue, key) < 0:
                raise ConfigError(f"{where} {key}: must not be negative")
        if not 0 <= queue.service_level_target <= 1:
            raise ConfigError(f"{where} service_level_target: a fraction between 0 and 1")
        _check_label(queue.label, where)
        if queue.record and not queue.recording_notice:
            raise ConfigError(
                f"{where} recording_notice: required when record = true (the caller is told before the queue)"
            )
    for i, menu in enumerate(config.menus):
        where = f"[[menus]][{i}]"
        for number in menu.numbers:
            claim(number, where)
        if not menu.numbers:
            raise ConfigError(f"{where} number: required")
        if not menu.prompt:
            raise ConfigError(f"{where} prompt: required")
        for digit, target in menu.options.items():
            if len(digit) != 1 or digit not in "0123456789*#":
                raise ConfigError(f"{where} options: {digit!r} is not one key of the phone (0-9 * #)")
            if target not in names:
                raise ConfigError(f"{where} options {digit}: no queue named {target!r}")
        if menu.default not in names:
            raise ConfigError(f"{where} default: no queue named {menu.default!r}")
        if menu.timeout_s <= 0 or menu.repeat < 1:
            raise ConfigError(f"{where} timeout_s/repeat: a menu waits a positive time, at least once")


LABEL_MAX = 60


def _check_label(label: dict[str, str] | str, where: str) -> None:
    """A queue's `label`: language codes of two letters (nl, fr, en, de) to a short non-empty text."""
    texts = {"": label} if isinstance(label, str) else label
    if isinstance(label, str) and not label:
        return
    for lang, text in texts.items():
        key = f"{where} label {lang}".rstrip()
        if lang and not re.fullmatch(r"[a-z]{2}", lang):
            raise ConfigError(f"{where} label: {lang!r} is not a language code of two letters (nl, fr, en)")
        if not text.strip():
            raise ConfigError(f"{key}: must not be empty")
        if len(text) > LABEL_MAX or any(ord(ch) < 32 for ch in text):
            raise ConfigError(f"{key}: one line of at most {LABEL_MAX} characters")


def _check_sip_sources(sip: SipConfig) -> None:
    advertise = (sip.advertise,) if isinstance(sip.advertise, str) else sip.advertise
    families = []
    for address in (a for a in advertise if a):
        host = plain(address)  # the endpoint's own reading: `::ffff:192.0.2.7` is IPv4
        if not (is_ip(host) or _HOST_NAME.fullmatch(host)):
            raise ConfigError(
                f"[sip] advertise: {address!r} is not an IP address or a host name (no port, no brackets needed)"
            )
        families.append(family_of(host))  # a name stands for the IPv4 side
    if len(families) != len(set(families)):
        raise ConfigError(f"[sip] advertise: {list(advertise)!r} gives more than one address of a family")
    for net in sip.allowed_sources:
        try:
            network(net)  # the endpoint's own reading, IPv4-mapped and bracketed forms included
        except ValueError:
            raise ConfigError(
                f"[sip] allowed_sources: {net!r} is not an IP address or CIDR (names are not resolved here)"
            ) from None
    for key in ("tcp_max_per_ip", "tcp_max_total"):
        if getattr(sip, key) < 1:
            raise ConfigError(f"[sip] {key}: {getattr(sip, key)} must be 1 or more")
    if sip.tcp_max_total < sip.tcp_max_per_ip:
        raise ConfigError(
            f"[sip] tcp_max_total: {sip.tcp_max_total} is below tcp_max_per_ip ({sip.tcp_max_per_ip})"
        )
    if not sip.tcp_idle_s > 0:
        raise ConfigError(f"[sip] tcp_idle_s: {sip.tcp_idle_s:g} must be more than 0 seconds")


def load_config(path: str | os.PathLike | None = None) -> Config:
    """Read the config named on the command line, else $AGENT_DESKTOP_CONFIG, else the demo config.

    Relative paths inside the file are taken from the file's own folder, so a config moves with its files."""
    if path is None:
        path = os.environ.get(ENV_CONFIG) or DEMO_CONFIG
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        hint = " (run `make run` once to create the demo config)" if p == DEMO_CONFIG else ""
        raise ConfigError(f"config file {str(p)!r} not found{hint}") from None
    return parse_config(text, base_dir=str(p.resolve().parent))
