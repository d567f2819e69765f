"""The `agent-desktop` command: serve the desk, enrol agents, import scripts, ring the desk, run the eID bridge.

Every subcommand takes `--config FILE` (default `$AGENT_DESKTOP_CONFIG`, else the demo config that `make run`
writes, found from the current folder or from the project's folder). Errors a user can fix (bad config, unreadable
certificate, unknown agent id, no desk answering) print one line and exit 2, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from . import memdump
from .config import DEMO_CONFIG, ENV_CONFIG, Config, ConfigError, load_config
from .logs import setup_logging
from .sip.addresses import is_wildcard, split_host_port, uri_host

# The project's folder when running from a checkout (`pip install -e`, as `make run` does).
PROJECT = Path(__file__).resolve().parent.parent


class UsageError(Exception):
    pass


def find_config(
    explicit: str | None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    project: Path = PROJECT,
) -> Path:
    """--config, else $AGENT_DESKTOP_CONFIG, else the demo config in this folder or in the project's folder.

    The last one lets `agent-desktop demo-call` work from any folder after `make run`. When none exists the
    error names every place looked at."""
    environ = os.environ if environ is None else environ
    if explicit:
        return Path(explicit)
    if environ.get(ENV_CONFIG):
        return Path(environ[ENV_CONFIG])
    here = (cwd or Path.cwd()) / DEMO_CONFIG
    candidates = [here, project / DEMO_CONFIG]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    looked = " and ".join(dict.fromkeys(str(c) for c in candidates))
    raise ConfigError(
        f"no config: give --config FILE or set ${ENV_CONFIG}; the demo config is not at {looked} "
        f"(run `make run` in {project} once to create it)"
    )


def _config(args: argparse.Namespace) -> Config:
    return load_config(find_config(args.config))


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
    if os.environ.get(memdump.ENV):  # bench only (bench/queue_soak.py --memdump): SIGUSR1 dumps memory
        app.on_startup.append(memdump.on_startup)
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


# -- orders ----------------------------------------------------------------------------------------------------


def cmd_orders_import(args: argparse.Namespace) -> int:
    """Validate the whole file, print `file:line: reason` per bad row and import nothing if any, else write it
    in batches of 1 000 rows (DESIGN.md §11)."""
    from zoneinfo import ZoneInfo

    from .acd.orders import import_rows_sync, list_settings
    from .web.orders_api import MAX_IMPORT_BYTES
    from .web.orders_csv import parse_orders_csv

    config = _config(args)
    try:
        settings = list_settings(
            args.list,
            kind=args.kind or "priority",
            skills=(args.skills or "").split(","),
            max_attempts=3 if args.max_attempts is None else args.max_attempts,
            retry_after_min=60 if args.retry_after_min is None else args.retry_after_min,
            open_=args.open or (),
        )
    except ValueError as e:
        raise UsageError(str(e)) from None
    try:
        # The desk's own cap: a wrong file picked by mistake (a database, a video) is not read into memory whole.
        if Path(args.file).stat().st_size > MAX_IMPORT_BYTES:
            raise UsageError(f"{args.file}: larger than {MAX_IMPORT_BYTES} bytes; split the list")
        data = Path(args.file).read_bytes()
    except OSError as e:
        raise UsageError(f"cannot read {args.file}: {e.strerror}") from None
    parsed = parse_orders_csv(data, ZoneInfo(config.timezone))  # `due`: the centre's local time
    for error in parsed.errors:
        print(f"{args.file}:{error.line}: {error.reason}", file=sys.stderr)
    if parsed.errors:
        print(f"{len(parsed.errors)} bad row(s): nothing imported", file=sys.stderr)
        return 1
    db = _open_db(config)
    try:
        lst, created, imported, updated = import_rows_sync(db, settings, parsed.rows)
    finally:
        db.close()
    flags = (args.kind, args.skills, args.max_attempts, args.retry_after_min, args.open)
    if not created and any(f is not None for f in flags) and settings != lst:
        print(f"list {lst.name} exists: its own settings are kept ({lst.kind})", file=sys.stderr)
    masked = f", national numbers masked in {parsed.masked} cell(s)" if parsed.masked else ""
    read_as = f", read as {parsed.encoding}" if parsed.encoding not in ("", "utf-8") else ""
    print(f"list {lst.name}: imported {imported}, updated {updated}{masked}{read_as}")
    return 0


# -- demo-call -------------------------------------------------------------------------------------------------


CAUSES = {
    "remote_bye": "the desk hung up",
    "local_bye": "hung up here",
    "rejected": "the desk refused the call: is an agent logged in and Beschikbaar (available)? "
    "On another desk, is this machine's address in its [sip] allowed_sources?",
    "no_answer": "nobody answered in time",
    "busy": "the desk is busy",
    "failed": "the call failed",
}


MAX_DEMO_CALLERS = 20  # enough to see a queue form; a load test is bench/queue_soak.py


def demo_target(config: Config, to: str | None) -> str:
    """The SIP URI to ring: `--to` as given when it is a URI, else that number (or the first queue's, else
    1700) at the desk's [sip] listen address."""
    host, port = split_host_port(config.sip.listen)
    host = "127.0.0.1" if is_wildcard(host) else uri_host(host)
    number = to or (config.queues[0].numbers[0] if config.queues and config.queues[0].numbers else "1700")
    return number if number.startswith(("sip:", "sips:")) else f"sip:{number}@{host}:{port}"


def cmd_demo_call(args: argparse.Namespace) -> int:
    from .sip.demo_caller import DeskUnreachable, check_dtmf, demo_calls, probe

    wav = Path(args.wav) if args.wav else None
    if wav is not None and not wav.is_file():
        raise UsageError(f"{wav}: no such file")
    try:
        dtmf = check_dtmf(args.dtmf)
    except ValueError as e:
        raise UsageError(str(e)) from None
    if not 1 <= args.count <= MAX_DEMO_CALLERS:
        raise UsageError(f"--count: {args.count} is not 1-{MAX_DEMO_CALLERS}")
    if args.dtmf_after < 0:
        raise UsageError("--dtmf-after: seconds, 0 or more")
    # A full sip: URI needs no config: QA can ring any desk from any machine.
    target = (
        args.to if args.to and args.to.startswith(("sip:", "sips:")) else demo_target(_config(args), args.to)
    )
    print(f"calling {target} (Ctrl-C hangs up)", flush=True)

    async def call() -> str:
        try:
            answer = await probe(target, timeout_s=args.probe_timeout)
        except DeskUnreachable as e:
            raise UsageError(str(e)) from None
        return await demo_calls(
            target,
            count=args.count,
            wav=wav,
            listen_host=args.host or answer.local_host,
            max_seconds=args.seconds,
            ring_timeout_s=args.ring_seconds,
            dtmf=dtmf,
            dtmf_after_s=args.dtmf_after,
        )

    try:
        causes = asyncio.run(call())
    except KeyboardInterrupt:
        return 0
    for i, cause in enumerate(causes):
        who = f"caller {i + 1}: " if len(causes) > 1 else ""
        print(f"{who}call ended: {cause} ({CAUSES.get(cause, cause)})")
    return 0 if all(cause in ("remote_bye", "local_bye") for cause in causes) else 1


# -- parser ----------------------------------------------------------------------------------------------------


EPILOG = """\
examples (after `make run`, in a second terminal):
  agent-desktop demo-call                    ring the demo desk; answer in the browser, Ctrl-C hangs up
  agent-desktop demo-call --to 1700 --dtmf 1  the demo menu, then key 1 (vaccinatie)
  agent-desktop demo-call --count 3          three callers at once: a queue forms
  agent-desktop agents list                  who may log in
  agent-desktop agents add --cert card.pem --roles agent,supervisor --skills vaccination
  agent-desktop kb import kb_client/demo     load a folder of Markdown scripts
  agent-desktop orders import reserve.csv --list reserve --kind reserve   a call list
  agent-desktop eid-bridge --origin https://desk.example.be   on an agent's PC

Each command has its own --help. How the desk is built: docs/ARCHITECTURE.md.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agent-desktop",
        description=__doc__.split("\n")[0],
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        metavar="FILE",
        help=f"desk config (default: ${ENV_CONFIG}, else {DEMO_CONFIG} here or in {PROJECT})",
    )
    common.add_argument(
        "-v", "--verbose", action="store_true", help="debug logging, including the WebRTC libraries"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("serve", parents=[common], help="serve the desk (web, WebSocket, SIP)")
    p.add_argument("--host", help="address to listen on (default: [server] host)")
    p.add_argument("--port", type=int, help="TCP port to listen on (default: [server] port)")
    p.set_defaults(func=cmd_serve)

    agents_parser = sub.add_parser("agents", parents=[common], help="enrol, list and disable agents")
    agents = agents_parser.add_subparsers(dest="agents_command", required=True, metavar="ACTION")
    p = agents.add_parser(
        "add", parents=[common], help="enrol the holder of an eID authentication certificate"
    )
    p.add_argument("--cert", required=True, help="the card's Authentication certificate (PEM or DER)")
    p.add_argument("--roles", default="agent", help="comma-separated: agent[,supervisor,helpdesk,admin]")
    p.add_argument(
        "--skills", default="", help="comma-separated skills that route calls to them, e.g. vaccination,info"
    )
    p.add_argument("--lang", default="nl", choices=["nl", "fr", "en"], help="the desk's language for them")
    p.set_defaults(func=cmd_agents_add)
    p = agents.add_parser("list", parents=[common], help="list enrolled agents (id, enabled, name, roles)")
    p.set_defaults(func=cmd_agents_list)
    p = agents.add_parser(
        "disable", parents=[common], help="refuse an agent's logins and end their live sessions"
    )
    p.add_argument("id", type=int, help="the agent's id (see `agents list`)")
    p.set_defaults(func=cmd_agents_disable)

    kb_parser = sub.add_parser("kb", parents=[common], help="the scripts knowledge base")
    kb = kb_parser.add_subparsers(dest="kb_command", required=True, metavar="ACTION")
    p = kb.add_parser("import", parents=[common], help="import a folder of Markdown items")
    p.add_argument("dir", help="folder of Markdown files with a YAML header (see kb_client/demo)")
    p.add_argument("--prune", action="store_true", help="delete items that are no longer in the folder")
    p.set_defaults(func=cmd_kb_import)

    orders_parser = sub.add_parser("orders", parents=[common], help="outbound call lists (call orders)")
    orders = orders_parser.add_subparsers(dest="orders_command", required=True, metavar="ACTION")
    p = orders.add_parser(
        "import",
        parents=[common],
        help="import a CSV file of call orders into a list (created when new)",
        description="Columns: number (required), name, priority, note, due; others are kept as the order's "
        "fields. A list's settings come from its first import. Every bad row is printed as file:line: reason "
        "and then nothing is imported (exit 1). Importing the same file again updates, never duplicates.",
    )
    p.add_argument(
        "file",
        help="CSV file, first row the header (comma, semicolon or tab; UTF-8, or Excel's Windows-1252)",
    )
    p.add_argument("--list", required=True, help="the call list's name")
    p.add_argument(
        "--kind", choices=["reserve", "priority", "tracing"], help="of a new list (default priority)"
    )
    p.add_argument("--skills", help="comma-separated skills an agent needs for a new list")
    p.add_argument("--max-attempts", type=int, help="calls before an order fails (new list; default 3)")
    p.add_argument(
        "--retry-after-min", type=int, help="minutes before an unanswered order is due again (new list; 60)"
    )
    p.add_argument(
        "--open",
        action="append",
        help='calling hours, e.g. "mon-fri 09:00-17:00" (repeatable; default always)',
    )
    p.set_defaults(func=cmd_orders_import)

    p = sub.add_parser(
        "demo-call",
        parents=[common],
        help="ring the desk from a test caller (in a second terminal, after `make run`)",
        description="Ring the desk from a SIP caller that plays a tone (or --wav) until either side hangs up. "
        "Set yourself available in the browser first. Fails within seconds when no desk answers.",
    )
    p.add_argument(
        "--to",
        help="queue number at the desk's [sip] listen address, or a full sip: URI (then no config is needed); "
        "default: the first queue's number, else 1700",
    )
    p.add_argument("--wav", help="16-bit PCM WAV to play (default: a tone)")
    p.add_argument(
        "--seconds", type=float, default=120.0, help="hang up this long after the answer (default 120)"
    )
    p.add_argument(
        "--ring-seconds", type=float, default=60.0, help="give up if nobody answers within this (default 60)"
    )
    p.add_argument(
        "--probe-timeout",
        type=float,
        default=3.0,
        help="how long to wait for the desk's answer to OPTIONS before saying it is not there (default 3)",
    )
    p.add_argument("--host", help="local address to call from (default: the one that routes to the desk)")
    p.add_argument(
        "--dtmf",
        default="",
        help="keys to press after the answer, sent as RFC 4733 events (0-9 * # A-D), e.g. 1 for the menu's first "
        "choice",
    )
    p.add_argument(
        "--dtmf-after",
        type=float,
        default=1.5,
        help="seconds between the answer and the first key (default 1.5)",
    )
    p.add_argument(
        "--count",
        type=int,
        default=1,
        help=f"callers at once, each with its own number, to see a queue form (default 1, at most {MAX_DEMO_CALLERS})",
    )
    p.set_defaults(func=cmd_demo_call)

    p = sub.add_parser("eid-bridge", parents=[common], help="the eID bridge on the agent's PC (127.0.0.1)")
    p.add_argument("--module", help="PKCS#11 module (default libbeidpkcs11.so.0)")
    p.add_argument("--token-label", help="token label (default BELPIC)")
    p.add_argument("--port", type=int, help="port on 127.0.0.1 (default: [eid] bridge_port, 35963)")
    p.add_argument("--origin", action="append", help="desk origin allowed to ask for a login (repeatable)")
    p.add_argument(
        "--export-cert", metavar="FILE", help="write the card's Authentication certificate (PEM) and exit"
    )
    p.set_defaults(func=cmd_eid_bridge)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
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
