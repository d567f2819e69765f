"""Config: defaults are production-safe, bad keys and values stop start-up naming the key."""

from __future__ import annotations

import pytest

from agent_desktop.config import Config, ConfigError, load_config, normalise_origin, parse_config


def test_defaults_are_production_safe():
    config = Config()
    assert config.eid.ocsp == "required"
    assert config.eid.trust_anchors == ""
    assert all(r.startswith("http://ocsp.eid.belgium.be") for r in config.eid.ocsp_responders)
    assert config.sip.ring_timeout_s == 32
    assert config.eid.client_cert_header == ""  # the TLS client-certificate login is off unless asked for
    # ... and once on, refuses logins on resumed TLS sessions unless the proxy says "full handshake".
    assert config.eid.tls_session_reused_header == "X-SSL-Session-Reused"


def test_full_config_parses():
    config = parse_config(
        """
[server]
port = 9000
public_url = "https://Desk.Example.be:443/"
[sip]
listen = "0.0.0.0:5070"
rtp_ports = [20000, 20100]
[webrtc]
ice_servers = [{urls = "turn:turn.example.be:3478", username = "u", credential_env = "TURN_PW"}]
host_addresses = ["127.0.0.1"]
[eid]
ocsp = "optional"
[mail]
from = "desk@example.be"
[[queues]]
name = "vaccinatie"
number = "+3250000000"
skills = ["vaccination"]
[kb]
backend = "sqlite"
"""
    )
    assert config.origin == "https://desk.example.be"
    assert config.sip.rtp_ports == (20000, 20100)
    assert config.webrtc.ice_servers[0].credential_env == "TURN_PW"
    assert config.mail.from_ == "desk@example.be"
    assert config.queues[0].skills == ("vaccination",)


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("[server]\nprot = 1", "[server] prot"),
        ("[server]\nport = 'x'", "[server] port"),
        ("[server]\nport = 70000", "[server] port"),
        ("[eid]\nocsp = 'sometimes'", "[eid] ocsp"),
        ("[sip]\nrtp_ports = [5, 4]", "[sip] rtp_ports"),
        ("[sip]\nlisten = 'nocolon'", "[sip] listen"),
        ("[nonsense]\na = 1", "[nonsense]"),
        ("[[queues]]\nname = 'q'\ncolour = 'red'", "[[queues]][0] colour"),
        ("[kb]\nbackend = 'http'", "[kb] url"),
        ("[server]\npublic_url = 'ftp://x'", "[server] public_url"),
        ("[server]\ntrusted_proxies = ['proxy.example']", "[server] trusted_proxies"),
        ("[server]\napi_burst = 5", "[server] api_burst"),  # below an export's cost: every export refused
        ("[server]\napi_per_s = 0", "[server] api_burst"),
        ("[server\n", "not valid TOML"),
        # The TLS client-certificate login without a proxy to believe it from would be dead, or worse.
        ("[eid]\nclient_cert_header = 'X-SSL-Client-Cert'", "[eid] client_cert_header"),
        (
            "[server]\ntrusted_proxies = ['127.0.0.1']\n[eid]\nclient_cert_header = 'X_SSL_Client_Cert'",
            "[eid] client_cert_header",
        ),
        (
            "[server]\ntrusted_proxies = ['127.0.0.1']\n[eid]\nclient_cert_header = 'Cookie'",
            "[eid] client_cert_header",
        ),
        (
            "[server]\ntrusted_proxies = ['127.0.0.1']\n[eid]\nclient_cert_header = 'X-SSL-Client-Cert'\n"
            "tls_session_reused_header = 'X-SSL-Session_Reused'",
            "[eid] tls_session_reused_header",
        ),
        (
            "[server]\ntrusted_proxies = ['127.0.0.1']\n[eid]\nclient_cert_header = 'X-SSL-Client-Cert'\n"
            "tls_session_reused_header = 'x-ssl-client-cert'",
            "[eid] tls_session_reused_header",
        ),
    ],
)
def test_bad_config_names_the_key(text, names):
    with pytest.raises(ConfigError) as error:
        parse_config(text)
    assert names in str(error.value)


def test_missing_file_says_how_to_make_the_demo(tmp_path, monkeypatch):
    monkeypatch.delenv("AGENT_DESKTOP_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="make run"):
        load_config()


def test_relative_paths_follow_the_config_file(tmp_path):
    path = tmp_path / "sub" / "desk.toml"
    path.parent.mkdir()
    path.write_text("[database]\npath = 'data/desk.db'\n")
    config = load_config(path)
    assert config.path(config.database.path) == tmp_path / "sub" / "data" / "desk.db"


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
        ("https://desk.example.be:443", "https://desk.example.be"),
        ("HTTP://Desk.example.be:80/x", "http://desk.example.be"),
        ("http://[::1]:9000", "http://[::1]:9000"),
    ],
)
def test_origin_normalisation(url, origin):
    assert normalise_origin(url) == origin
