# ruff: noqa: ASYNC220, ASYNC230, ASYNC240  (test helpers: quick local file and process set-up)
"""Real SIP peers for the integration tests: baresip, SIPp and Kamailio as subprocesses in tmp dirs.

Each helper starts its process on free loopback ports, and `stop()` ends exactly that process (by its PID).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import signal
import subprocess
import time
from pathlib import Path

from tests.helpers.net import free_udp_tcp_port
from tests.sip.audio import tone_pcm, write_wav

BARESIP = shutil.which("baresip")
SIPP = shutil.which("sipp")
KAMAILIO = shutil.which("kamailio")


class Baresip:
    """baresip with an aufile tone source, sndfile recording, auto-answer and ctrl_tcp for commands."""

    def __init__(
        self, workdir: Path, sip_port: int, ctrl_port: int, rtp_base: int, *, wav: Path, account: str
    ):
        self.dir = workdir
        self.sip_port = sip_port
        self.ctrl_port = ctrl_port
        self.rtp_base = rtp_base
        self._wav = wav
        self.dir.mkdir(parents=True, exist_ok=True)
        self.rec_dir = self.dir / "rec"
        self.rec_dir.mkdir(exist_ok=True)
        self._write_config()
        (self.dir / "accounts").write_text(account + "\n")
        self.log_path = self.dir / "baresip.log"
        self.proc: subprocess.Popen | None = None

    def _write_config(self) -> None:
        (self.dir / "config").write_text(
            f"""poll_method epoll
sip_listen 127.0.0.1:{self.sip_port}
audio_player aubridge,nowhere
audio_source aufile,{self._wav}
audio_alert aubridge,nowhere
rtp_ports {self.rtp_base}-{self.rtp_base + 20}
module_path /usr/lib/baresip/modules
module g711.so
module aufile.so
module aubridge.so
module sndfile.so
snd_path {self.rec_dir}
module_app account.so
module_app menu.so
module_app ctrl_tcp.so
ctrl_tcp_listen 127.0.0.1:{self.ctrl_port}
"""
        )

    async def start(self) -> None:
        """Start baresip; if one of its ports was taken meanwhile (it also binds SIP/TLS on sip_port + 1, which
        a free-port probe cannot reserve), try again on fresh ports. Callers read `sip_port` after start."""
        assert BARESIP is not None
        for attempt in range(3):
            self._log = open(self.log_path, "wb")  # noqa: SIM115 (closed in stop)
            self.proc = subprocess.Popen(
                [BARESIP, "-f", str(self.dir), "-n", "127.0.0.1", "-v"],
                stdout=self._log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
            try:
                await self.wait_log("baresip is ready", 5)
                return
            except AssertionError:
                if attempt == 2 or "Address already in use" not in self.log():
                    raise
                await self.stop()
                self.sip_port = free_udp_tcp_port()
                self.ctrl_port = free_udp_tcp_port()
                self.rtp_base = free_udp_tcp_port() // 2 * 2
                self._write_config()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def wait_log(self, text: str, within: float) -> str:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            content = self.log()
            if text in content:
                return content
            if self.proc is not None and self.proc.poll() is not None:
                break
            await asyncio.sleep(0.05)
        raise AssertionError(f"baresip log lacks {text!r}:\n{self.log()[-3000:]}")

    async def command(self, command: str, params: str = "") -> dict:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.ctrl_port)
        try:
            body = json.dumps({"command": command, "params": params, "token": "t"}).encode()
            writer.write(f"{len(body)}:".encode() + body + b",")
            await writer.drain()
            head = await asyncio.wait_for(reader.readuntil(b":"), 5)
            data = await asyncio.wait_for(reader.readexactly(int(head[:-1]) + 1), 5)
            return json.loads(data[:-1])
        finally:
            writer.close()

    def recordings(self) -> list[Path]:
        return sorted(self.rec_dir.glob("*.wav"))

    async def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            for _ in range(40):
                if self.proc.poll() is not None:
                    break
                await asyncio.sleep(0.05)
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(2)
        with contextlib.suppress(Exception):
            self._log.close()


SCENARIOS = Path(__file__).parent / "scenarios"


async def run_sipp(
    workdir: Path,
    scenario: str,
    target_port: int,
    *,
    extra: list[str] = (),
    limit_s: float = 20,
    local_ip: str = "127.0.0.1",
    remote_host: str = "127.0.0.1",
) -> tuple[int, str]:
    """Run one SIPp scenario from local_ip against remote_host:target_port (IPv6 bracketed: "[::1]"); returns
    (exit code, error/message log)."""
    assert SIPP is not None
    workdir.mkdir(parents=True, exist_ok=True)
    src = SCENARIOS / scenario
    dst = workdir / scenario
    dst.write_text(src.read_text())
    from .conftest import free_port

    args = [
        SIPP,
        f"{remote_host}:{target_port}",
        "-sf",
        str(dst),
        "-i",
        local_ip,
        "-p",
        str(free_port()),
        "-mp",
        str(free_port() // 2 * 2),
        "-nostdin",
        "-timeout",
        f"{int(limit_s)}s",
        "-trace_err",
        "-trace_msg",
        *extra,
    ]
    proc = await asyncio.create_subprocess_exec(
        *args, cwd=workdir, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    try:
        _, err = await asyncio.wait_for(proc.communicate(), limit_s + 5)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    logs = "".join(p.read_text(errors="replace") for p in workdir.glob("*_errors.log"))
    return proc.returncode or 0, err.decode(errors="replace") + logs


KAMAILIO_CFG = """#!KAMAILIO
debug=2
log_stderror=yes
memdbg=5
memlog=5
children=2
tcp_children=1
auto_aliases=no
listen=udp:127.0.0.1:{port}
listen=tcp:127.0.0.1:{port}
alias="127.0.0.1:{port}"
mpath="{mpath}"
loadmodule "db_text.so"
loadmodule "kex.so"
loadmodule "corex.so"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "auth.so"
loadmodule "auth_db.so"
modparam("usrloc", "db_mode", 0)
modparam("registrar", "min_expires", 1)
modparam("auth", "algorithm", "{algorithm}")
modparam("auth_db", "db_url", "text://{db}")
modparam("auth_db", "calculate_ha1", yes)
modparam("auth_db", "password_column", "password")
modparam("auth_db", "load_credentials", "")
modparam("auth_db", "use_domain", 0)

request_route {{
    if (!mf_process_maxfwd_header("10")) {{ sl_send_reply("483", "Too Many Hops"); exit; }}
    if (is_method("OPTIONS") && uri == myself && $rU == $null) {{ sl_send_reply("200", "OK"); exit; }}
    if (has_totag()) {{
        if (loose_route()) {{ t_relay(); exit; }}
        if (is_method("ACK")) {{ if (t_check_trans()) {{ t_relay(); }} exit; }}
        sl_send_reply("404", "Not here");
        exit;
    }}
    if (is_method("CANCEL")) {{ if (t_check_trans()) {{ t_relay(); }} exit; }}
    t_check_trans();
    # the desk (user "desk") must authenticate; the test phone (baresip) is trusted
    if ($fU == "desk") {{
        if (!auth_check("$fd", "subscriber", "1")) {{ auth_challenge("$fd", "1"); exit; }}
        consume_credentials();
    }}
    if (is_method("REGISTER")) {{
        if (!save("location")) {{ sl_reply_error(); }}
        exit;
    }}
    record_route();
    if (!lookup("location")) {{ sl_send_reply("404", "Not Found"); exit; }}
    t_relay();
}}
"""


class Kamailio:
    """Kamailio as registrar/proxy with digest auth from a db_text subscriber table."""

    def __init__(self, workdir: Path, port: int, *, user: str, password: str, algorithm: str = "MD5"):
        self.dir = workdir
        self.port = port
        db = workdir / "db"
        db.mkdir(parents=True, exist_ok=True)
        (db / "version").write_text("table_name(str) table_version(int)\nsubscriber:7\n")
        (db / "subscriber").write_text(
            "id(int,auto) username(str) domain(str) password(str) ha1(str,null) ha1b(str,null)\n"
            f"1:{user}:127.0.0.1:{password}:::\n"
        )
        mpath = next(
            p
            for p in ("/usr/lib/x86_64-linux-gnu/kamailio/modules/", "/usr/lib/kamailio/modules/")
            if Path(p).exists()
        )
        self.cfg = workdir / "kamailio.cfg"
        self.cfg.write_text(KAMAILIO_CFG.format(port=port, mpath=mpath, db=db, algorithm=algorithm))
        self.log_path = workdir / "kamailio.log"
        self.proc: subprocess.Popen | None = None

    async def start(self) -> None:
        assert KAMAILIO is not None
        self._log = open(self.log_path, "wb")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            [
                KAMAILIO,
                "-f",
                str(self.cfg),
                "-DD",
                "-E",
                "-m",
                "32",
                "-M",
                "4",
                "-Y",
                str(self.dir),
                "-w",
                str(self.dir),
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        import socket

        for _ in range(100):
            if self.proc.poll() is not None:
                raise AssertionError(f"kamailio exited:\n{self.log_path.read_text()[-3000:]}")
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            await asyncio.sleep(0.05)
        raise AssertionError("kamailio did not start")

    async def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # kamailio's main process takes its children with it
            for _ in range(60):
                if self.proc.poll() is not None:
                    break
                await asyncio.sleep(0.05)
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(2)
        with contextlib.suppress(Exception):
            self._log.close()


@contextlib.asynccontextmanager
async def answering_baresip(tmp_path: Path, freq: float, seconds: float, codecs: str):
    """baresip as bob@127.0.0.1 on free ports, answering at once with a `freq` Hz tone, offering only `codecs`."""
    wav = write_wav(tmp_path / f"tone{int(freq)}.wav", tone_pcm(freq, seconds))
    peer = Baresip(
        tmp_path / "baresip",
        free_udp_tcp_port(),
        free_udp_tcp_port(),
        free_udp_tcp_port() // 2 * 2,
        wav=wav,
        account=f"<sip:bob@127.0.0.1>;regint=0;answermode=auto;audio_codecs={codecs}",
    )
    await peer.start()
    try:
        yield peer
    finally:
        await peer.stop()
