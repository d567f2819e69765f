"""Configuration: a TOML file read into frozen dataclasses.

Defaults in code are production-safe (no trust anchor, OCSP required against the Belgian responders); the demo's
values live in the demo config that `make run` writes. Unknown keys and values of the wrong type stop start-up with
a message that names the key, because a typo in a contact centre's config must not silently fall back to a default.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

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
    listen: str = "127.0.0.1:5060"
    advertise: str = ""
    rtp_ports: tuple[int, int] = (40000, 40999)
    caller_id: str = ""
    trunk_uri: str = ""
    username: str = ""
    password_env: str = ""
    ring_timeout_s: int = 40
    hold_music: str = ""


@dataclass(frozen=True)
class IceServer:
    urls: str | tuple[str, ...] = ""
    username: str = ""
    credential_env: str = ""


@dataclass(frozen=True)
class WebRtcConfig:
    ice_servers: tuple[IceServer, ...] = ()
    host_addresses: tuple[str, ...] = ()


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
    # STARTTLS with a checked certificate: "starttls" when the server offers it, "require" never in the clear,
    # "none" never (a local relay whose certificate no trust store knows).
    tls: Literal["starttls", "none", "require"] = "starttls"


@dataclass(frozen=True)
class WrapupConfig:
    outcomes: tuple[str, ...] = ("answered", "escalated", "callback", "no_answer_possible", "wrong_number")


@dataclass(frozen=True)
class QueueConfig:
    name: str = ""
    number: str = ""
    skills: tuple[str, ...] = ()
    open: str = "mo-fr 08:00-18:00"
    welcome: str = ""
    wait_message_every_s: int = 60
    callback_offer_after_s: int = 150
    overflow_after_s: int = 180
    overflow_to: str = ""
    min_agents: int = 1


@dataclass(frozen=True)
class AcdConfig:
    # How long a call rings for one agent before it goes to the next available one.
    offer_timeout_s: float = 20.0


@dataclass(frozen=True)
class KbConfig:
    backend: Literal["sqlite", "http"] = "sqlite"
    path: str = "var/kb.db"
    url: str = ""
    token_env: str = ""
    api_tokens_env: str = ""


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
    acd: AcdConfig = field(default_factory=AcdConfig)
    kb: KbConfig = field(default_factory=KbConfig)
    # Relative paths in the file are taken from here: the config file's folder.
    base_dir: str = "."

    def path(self, value: str) -> Path:
        """A path from the config, resolved against base_dir when relative."""
        p = Path(value)
        return p if p.is_absolute() else Path(self.base_dir) / p

    @property
    def origin(self) -> str:
        return normalise_origin(self.server.public_url)


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
        if key == "queues":
            if not isinstance(value, list):
                raise ConfigError("[[queues]]: expected an array of tables")
            sections[key] = tuple(_build(QueueConfig, q, f"[[queues]][{i}]") for i, q in enumerate(value))
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
    if ":" not in config.sip.listen:
        raise ConfigError(f"[sip] listen: {config.sip.listen!r} must be HOST:PORT")
    for net in config.server.trusted_proxies:
        try:
            ipaddress.ip_network(net, strict=False)
        except ValueError:
            raise ConfigError(f"[server] trusted_proxies: {net!r} is not an address or network") from None
    if config.kb.backend == "http" and not config.kb.url:
        raise ConfigError("[kb] url: required when backend = 'http'")


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
