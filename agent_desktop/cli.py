"""The `agent-desktop` command: serve, agents, kb, eid-bridge (DESIGN.md §6 "CLI").

Every subcommand takes `--config FILE` (default `$AGENT_DESKTOP_CONFIG`, else the demo config). Errors a user can
fix (bad config, unreadable certificate, unknown agent id) print one line and exit 2, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
from pathlib import Path

from .config import Config, ConfigError, load_config


class UsageError(Exception):
    pass


def _config(args: argparse.Namespace) -> Config:
    return load_config(args.config)


def _open_db(config: Config):
    from .store.db import open_db

    return open_db(config.path(config.database.path))


# -- serve -----------------------------------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from .app import create_app

    config = _config(args)
    host = args.host or config.server.host
    port = args.port if args.port is not None else config.server.port
    app = create_app(config)
    print(
        f"Agent Desktop serving on http://{host}:{port} (public URL {config.server.public_url})", flush=True
    )
    web.run_app(
        app, host=host, port=port, print=None, access_log=None, handle_signals=True, loop=_event_loop()
    )
    return 0


def _event_loop() -> asyncio.AbstractEventLoop:
    """uvloop where it exists (Linux, macOS): a quarter less CPU per bridged call (docs/BENCHMARKS.md)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


# -- agents ----------------------------------------------------------------------------------------------------


def _read_certificate(path: str):
    from cryptography import x509

    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror}") from None
    try:
        return (
            x509.load_pem_x509_certificate(data)
            if b"-----BEGIN" in data
            else x509.load_der_x509_certificate(data)
        )
    except ValueError:
        raise UsageError(f"{path}: not a PEM or DER certificate") from None


def enrol_certificate(config: Config, cert, roles: list[str], skills: list[str], lang: str = "nl"):
    """Enrol the holder of an eID authentication certificate. The certificate is not kept: it names the NRN."""
    from .app import load_nrn_key
    from .eid.errors import EidError
    from .eid.nrn import nrn_hash
    from .eid.verify import identity_from_certificate
    from .store import agents

    try:
        identity = identity_from_certificate(cert)
    except EidError as e:
        raise UsageError(f"certificate refused: {e.message}") from None
    db = _open_db(config)
    try:
        agent, new = agents.enrol(
            db,
            nrn_hash=nrn_hash(identity.nrn, load_nrn_key(config)),
            given_name=identity.given_name,
            surname=identity.surname,
            roles=tuple(roles),
            skills=tuple(skills),
            lang=lang,
            cert_fingerprint=identity.cert_fingerprint,
        )
    except ValueError as e:
        raise UsageError(str(e)) from None
    finally:
        db.close()
    return agent, new


def cmd_agents_add(args: argparse.Namespace) -> int:
    config = _config(args)
    roles = [r.strip() for r in args.roles.split(",") if r.strip()]
    skills = [s.strip() for s in (args.skills or "").split(",") if s.strip()]
    agent, new = enrol_certificate(config, _read_certificate(args.cert), roles, skills, args.lang)
    print(f"{'enrolled' if new else 'updated'} agent {agent.id}: {agent.name} roles={','.join(agent.roles)}")
    return 0


def cmd_agents_list(args: argparse.Namespace) -> int:
    from .store import agents

    db = _open_db(_config(args))
    try:
        rows = agents.list_all(db)
    finally:
        db.close()
    print(f"{'id':>4}  {'enabled':7}  {'name':30}  {'roles':30}  skills")
    for a in rows:
        print(
            f"{a.id:>4}  {'yes' if a.enabled else 'no':7}  {a.name:30}  {','.join(a.roles):30}  {','.join(a.skills)}"
        )
    return 0


def cmd_agents_disable(args: argparse.Namespace) -> int:
    from .store import agents, audit, sessions

    db = _open_db(_config(args))
    try:
        if not agents.set_enabled(db, args.id, False):
            raise UsageError(f"no agent with id {args.id}")
        ended = sessions.end_all_for_agent(db, args.id, "agent_disabled")
        audit.log(db, "agent_disabled", agent_id=args.id, by="cli")
    finally:
        db.close()
    print(f"agent {args.id} disabled; {ended} live session(s) ended")
    return 0


# -- eid-bridge ------------------------------------------------------------------------------------------------


def cmd_eid_bridge(args: argparse.Namespace) -> int:
    from .eid.bridge import run_bridge

    try:
        config = _config(args)
    except ConfigError:
        # The bridge runs on the agent's PC, which usually has no desk config: flags are enough there.
        if not args.origin:
            raise
        config = Config()
    module = args.module or config.eid.bridge_module
    label = args.token_label or config.eid.bridge_token_label
    if args.export_cert:
        return _export_cert(module, label, args.export_cert)
    origins = args.origin or [config.server.public_url]
    port = args.port if args.port is not None else config.eid.bridge_port
    print(
        f"eID bridge on http://127.0.0.1:{port} for {', '.join(origins)} (module {module}, token {label})",
        flush=True,
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_bridge(module, label, "127.0.0.1", port, origins, env=dict(os.environ)))
    return 0


def _export_cert(module: str, label: str, target: str) -> int:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    from .eid.token_worker import TokenWorker

    async def read() -> bytes:
        worker = TokenWorker(module, label, env=dict(os.environ))
        await worker.start()
        try:
            return await worker.read_auth_certificate()
        finally:
            await worker.close()

    der = asyncio.run(read())
    Path(target).write_bytes(x509.load_der_x509_certificate(der).public_bytes(Encoding.PEM))
    print(f"authentication certificate written to {target}")
    return 0


# -- kb --------------------------------------------------------------------------------------------------------


def cmd_kb_import(args: argparse.Namespace) -> int:
    from kb_client.importer import import_folder
    from kb_client.sqlite_backend import SqliteKnowledgeBase

    config = _config(args)
    if config.kb.backend != "sqlite":
        raise UsageError("[kb] backend is not 'sqlite': import into the central knowledge base instead")
    kb = SqliteKnowledgeBase(config.path(config.kb.path))
    try:
        report = import_folder(kb, Path(args.dir), prune=args.prune)
    finally:
        result = kb.close()
        if asyncio.iscoroutine(result):
            asyncio.run(result)
    for error in report.errors:
        print(str(error))
    for warning in getattr(report, "warnings", ()):
        print(f"warning: {warning}")
    print(
        f"imported {report.imported}, updated {report.updated}, unchanged {report.unchanged}, "
        f"pruned {report.pruned}, bad files {len({e.path for e in report.errors})}"
    )
    return 1 if report.errors else 0


# -- demo-call -------------------------------------------------------------------------------------------------


def cmd_demo_call(args: argparse.Namespace) -> int:
    from .sip.demo_caller import demo_call

    config = _config(args)
    host, _, port = config.sip.listen.rpartition(":")
    host = host.strip("[]")
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    number = args.to or (config.queues[0].numbers[0] if config.queues and config.queues[0].numbers else "1700")
    target = number if number.startswith(("sip:", "sips:")) else f"sip:{number}@{host}:{port}"
    wav = Path(args.wav) if args.wav else None
    if wav is not None and not wav.is_file():
        raise UsageError(f"{wav}: no such file")
    print(f"calling {target} (Ctrl-C hangs up)", flush=True)
    try:
        cause = asyncio.run(demo_call(target, wav=wav, max_seconds=args.seconds))
    except KeyboardInterrupt:
        return 0
    print(f"call ended: {cause}")
    return 0 if cause in ("remote_bye", "local_bye") else 1


# -- parser ----------------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="agent-desktop", description=__doc__.split("\n")[0])
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config", help="config file (default: $AGENT_DESKTOP_CONFIG, else var/demo/desk.toml)"
    )
    common.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", parents=[common], help="serve the desk")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.set_defaults(func=cmd_serve)

    agents = sub.add_parser("agents", parents=[common], help="enrol and manage agents").add_subparsers(
        dest="agents_command", required=True
    )
    p = agents.add_parser(
        "add", parents=[common], help="enrol the holder of an eID authentication certificate"
    )
    p.add_argument("--cert", required=True, help="the card's Authentication certificate (PEM or DER)")
    p.add_argument("--roles", default="agent", help="agent[,supervisor,helpdesk,admin]")
    p.add_argument("--skills", default="")
    p.add_argument("--lang", default="nl", choices=["nl", "fr", "en"])
    p.set_defaults(func=cmd_agents_add)
    p = agents.add_parser("list", parents=[common])
    p.set_defaults(func=cmd_agents_list)
    p = agents.add_parser("disable", parents=[common])
    p.add_argument("id", type=int)
    p.set_defaults(func=cmd_agents_disable)

    kb = sub.add_parser("kb", parents=[common], help="knowledge base").add_subparsers(
        dest="kb_command", required=True
    )
    p = kb.add_parser("import", parents=[common], help="import a folder of Markdown items")
    p.add_argument("dir")
    p.add_argument("--prune", action="store_true", help="delete items that are no longer in the folder")
    p.set_defaults(func=cmd_kb_import)

    p = sub.add_parser("demo-call", parents=[common], help="call the desk from a SIP caller that plays a WAV")
    p.add_argument(
        "--to", help="number of the desk's queue or a sip: URI (default: the first queue, else 1700)"
    )
    p.add_argument("--wav", help="16-bit PCM WAV to play (default: a tone)")
    p.add_argument("--seconds", type=float, default=120.0, help="hang up after this long")
    p.set_defaults(func=cmd_demo_call)

    p = sub.add_parser("eid-bridge", parents=[common], help="the eID bridge on the agent's PC (127.0.0.1)")
    p.add_argument("--module", help="PKCS#11 module (default libbeidpkcs11.so.0)")
    p.add_argument("--token-label", help="token label (default BELPIC)")
    p.add_argument("--port", type=int)
    p.add_argument("--origin", action="append", help="desk origin allowed to ask for a login (repeatable)")
    p.add_argument(
        "--export-cert", metavar="FILE", help="write the card's Authentication certificate (PEM) and exit"
    )
    p.set_defaults(func=cmd_eid_bridge)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return args.func(args)
    except (ConfigError, UsageError) as e:
        print(f"agent-desktop: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # an EidError from the token, for instance
        code = getattr(e, "code", None)
        if code is None:
            raise
        print(f"agent-desktop: {code}: {getattr(e, 'message', e)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
