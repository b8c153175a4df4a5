"""`make run`: migrate and seed, then run mock VNeID, the broker and the demo RP until Ctrl-C.

Standard library only. State lives in var/. Every BROKER_*, MOCK_VNEID_* and DEMO_RP_* variable
reaches the children unchanged; when a port is overridden (MOCK_VNEID_PORT, BROKER_PORT,
DEMO_RP_PORT) the URLs that depend on it are passed too, unless they are set already.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[1]
VAR = ROOT / "var"
CLIENT_FILE = VAR / "demo_rp_client.json"
LEGACY_CSV = ROOT / "seed" / "legacy_accounts.csv"
SOURCE_SYSTEMS_CSV = ROOT / "seed" / "source_systems.csv"
BIN = Path(sys.executable).parent  # the virtualenv's bin/ (not resolved: a venv python is a symlink)
HOST = "127.0.0.1"
DEFAULT_PORTS = {"MOCK_VNEID_PORT": 9000, "BROKER_PORT": 8000, "DEMO_RP_PORT": 8080}
# Where the broker receives VNeID's answer; used only to register it with mock VNeID when BROKER_PORT moves.
BROKER_VNEID_CALLBACK_PATH = "/login/vneid/callback"
DEMO_RP_NAME = "Cổng dịch vụ công tỉnh (demo)"
# MOCK_VNEID_MODE (oidc, oauth2-userinfo, vneid-gateway): the broker's default upstream speaks the same.
MOCK_MODES = ("oidc", "oauth2-userinfo", "vneid-gateway")
GATEWAY_KEY = VAR / "broker_gateway_key.pem"  # the broker's RSA key that the gateway encrypts for
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
USAGE_ERROR = 2  # click/typer's exit code for an unknown option

_print_lock = threading.Lock()


class Interrupted(Exception):
    """Ctrl-C (or SIGTERM) arrived before everything was up."""


class SetupFailed(Exception):
    """A setup command failed; the message says which."""


@dataclass(frozen=True)
class Ports:
    vneid: int
    broker: int
    demo_rp: int


@dataclass(frozen=True)
class Service:
    name: str
    argv: list[str]
    ready_url: str


# ---- pure helpers ---------------------------------------------------------------------------------


def ports_from(env: Mapping[str, str]) -> Ports:
    def port(name: str) -> int:
        return int(env.get(name) or DEFAULT_PORTS[name])

    return Ports(port("MOCK_VNEID_PORT"), port("BROKER_PORT"), port("DEMO_RP_PORT"))


def url(port: int) -> str:
    return f"http://{HOST}:{port}"


def child_env(env: Mapping[str, str], ports: Ports) -> dict[str, str]:
    """The children's environment: the caller's, plus the URLs that follow an overridden port."""
    derived: dict[str, str] = {}
    if ports.vneid != DEFAULT_PORTS["MOCK_VNEID_PORT"]:
        derived |= {"MOCK_VNEID_ISSUER": url(ports.vneid), "BROKER_VNEID_ISSUER": url(ports.vneid)}
    if ports.broker != DEFAULT_PORTS["BROKER_PORT"]:
        redirect = url(ports.broker) + BROKER_VNEID_CALLBACK_PATH
        derived |= {
            "BROKER_ISSUER": url(ports.broker),
            "DEMO_RP_ISSUER": url(ports.broker),
            "MOCK_VNEID_REDIRECT_URIS": json.dumps([redirect]),
        }
    if ports.demo_rp != DEFAULT_PORTS["DEMO_RP_PORT"]:
        derived["DEMO_RP_BASE_URL"] = url(ports.demo_rp)
    derived |= upstream_mode_env(env)
    # Children's logs arrive line by line (not in 8 kB bursts), and in UTF-8 whatever the locale.
    derived |= {"PYTHONUNBUFFERED": "1", "PYTHONIOENCODING": "utf-8"}
    return derived | dict(env)  # what the user set wins


def mock_mode(env: Mapping[str, str]) -> str:
    mode = env.get("MOCK_VNEID_MODE") or "oidc"
    if mode not in MOCK_MODES:
        raise SetupFailed(f"MOCK_VNEID_MODE={mode!r}: use one of {', '.join(MOCK_MODES)}")
    return mode


def upstream_mode_env(env: Mapping[str, str]) -> dict[str, str]:
    """The broker's default upstream in mock VNeID's mode, and the gateway's key pair on both sides."""
    mode = mock_mode(env)
    if mode == "oidc":
        return {}
    derived = {"BROKER_VNEID_MODE": mode}
    if mode == "vneid-gateway":
        derived |= {
            "BROKER_VNEID_GATEWAY_PRIVATE_KEY_FILE": str(GATEWAY_KEY),
            "MOCK_VNEID_RP_PUBLIC_KEY_FILE": str(GATEWAY_KEY) + ".pub",
        }
        if env.get("MOCK_VNEID_GATEWAY_CIPHER_MODE"):
            derived["BROKER_VNEID_GATEWAY_CIPHER_MODE"] = env["MOCK_VNEID_GATEWAY_CIPHER_MODE"]
    return derived


def demo_rp_base_url(env: Mapping[str, str], ports: Ports) -> str:
    return env.get("DEMO_RP_BASE_URL", url(ports.demo_rp)).rstrip("/")


def script(name: str) -> str:
    """A console script of this virtualenv (broker, mock-vneid)."""
    for candidate in (BIN / name, BIN / f"{name}.exe"):
        if candidate.exists():
            return str(candidate)
    raise SetupFailed(f"{name} is not installed in {BIN} (run `make install`?)")


def clients_create_argv(broker: str, rp_base_url: str, post_logout: bool = True) -> list[str]:
    argv = [broker, "clients", "create", "--name", DEMO_RP_NAME, "--redirect-uri", f"{rp_base_url}/callback"]
    if post_logout:
        argv += ["--post-logout-redirect-uri", f"{rp_base_url}/"]
    return argv


def services(ports: Ports, broker: str, mock_vneid: str) -> list[Service]:
    """The three servers, in start order: each needs the one before it."""
    oidc = "/.well-known/openid-configuration"
    listen = ["--host", HOST, "--port"]
    demo_rp = [
        sys.executable,
        "-m",
        "uvicorn",
        "demo_rp.app:create_app",
        "--factory",
        "--app-dir",
        "examples",
    ]
    return [
        # /healthz: every mode has it, while only the oidc mode has a discovery document.
        Service("vneid", [mock_vneid, *listen, str(ports.vneid)], url(ports.vneid) + "/healthz"),
        Service("broker", [broker, "serve", *listen, str(ports.broker)], url(ports.broker) + oidc),
        Service("demo-rp", [*demo_rp, *listen, str(ports.demo_rp)], url(ports.demo_rp) + "/healthz"),
    ]


def parse_client_json(stdout: str) -> dict[str, object]:
    """The JSON object `broker clients create` printed (the whole output, or its last JSON line)."""
    for text in [stdout, *reversed(stdout.splitlines())]:
        try:
            data = json.loads(text)
        except ValueError:
            continue
        if isinstance(data, dict) and data.get("client_id"):
            return data
    raise SetupFailed("`broker clients create` printed no JSON object with a client_id")


# ---- setup: database, demo client, legacy accounts --------------------------------------------------


def shown(argv: list[str]) -> str:
    """A command as a person would type it (the script's name without its directory)."""
    return shlex.join([Path(argv[0]).name, *argv[1:]])


def say(message: str) -> None:
    with _print_lock:
        print(f"[dev_run] {message}", flush=True)


def run_step(
    argv: list[str], env: Mapping[str, str], stop: threading.Event, **kwargs
) -> subprocess.CompletedProcess:
    say("$ " + shown(argv))
    result = subprocess.run(argv, cwd=ROOT, env=dict(env), check=False, **kwargs)  # noqa: S603
    if stop.is_set():
        raise Interrupted
    return result


def check_saved_client(rp_base_url: str) -> None:
    try:
        registered = json.loads(CLIENT_FILE.read_text(encoding="utf-8")).get("redirect_uris")
    except (ValueError, AttributeError):
        raise SetupFailed(f"{CLIENT_FILE} is not a client's JSON: delete it (`make reset`)") from None
    if registered and f"{rp_base_url}/callback" not in registered:
        say(f"warning: {CLIENT_FILE.name} was registered for another address; `make reset` to redo it")
    say(f"demo RP client: reusing {CLIENT_FILE.relative_to(ROOT)}")


def create_demo_client(broker: str, env: Mapping[str, str], rp_base_url: str, stop: threading.Event) -> None:
    def create(post_logout: bool) -> subprocess.CompletedProcess:
        argv = clients_create_argv(broker, rp_base_url, post_logout)
        return run_step(argv, env, stop, stdout=subprocess.PIPE, encoding="utf-8", errors="replace")

    result = create(post_logout=True)
    if result.returncode == USAGE_ERROR:  # this CLI does not know --post-logout-redirect-uri
        result = create(post_logout=False)
    if result.returncode != 0:
        raise SetupFailed(f"`broker clients create` exited with code {result.returncode}")
    data = parse_client_json(result.stdout)
    fd = os.open(CLIENT_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # it holds the client secret
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(data, out, ensure_ascii=False, indent=2)
    say(f"demo RP client {data['client_id']} saved to {CLIENT_FILE.relative_to(ROOT)}")


def setup(broker: str, env: Mapping[str, str], ports: Ports, stop: threading.Event) -> None:
    VAR.mkdir(exist_ok=True)
    if run_step([broker, "db", "upgrade"], env, stop).returncode != 0:
        raise SetupFailed("`broker db upgrade` failed")
    rp_base_url = demo_rp_base_url(env, ports)
    if CLIENT_FILE.exists():  # registered on the first run; the broker's database still has it
        check_saved_client(rp_base_url)
    else:
        create_demo_client(broker, env, rp_base_url, stop)
    if env.get("BROKER_VNEID_MODE") == "vneid-gateway":
        key_file = env.get("BROKER_VNEID_GATEWAY_PRIVATE_KEY_FILE", str(GATEWAY_KEY))
        argv = [broker, "upstreams", "gateway-key", key_file]
        if run_step(argv, env, stop).returncode != 0:
            raise SetupFailed("`broker upstreams gateway-key` failed")
    if LEGACY_CSV.exists():
        if run_step([broker, "legacy", "import", str(LEGACY_CSV)], env, stop).returncode != 0:
            raise SetupFailed(f"`broker legacy import {LEGACY_CSV.relative_to(ROOT)}` failed")
    if SOURCE_SYSTEMS_CSV.exists():
        if run_step([broker, "systems", "import", str(SOURCE_SYSTEMS_CSV)], env, stop).returncode != 0:
            raise SetupFailed(f"`broker systems import {SOURCE_SYSTEMS_CSV.relative_to(ROOT)}` failed")


# ---- running the servers ----------------------------------------------------------------------------


class Child:
    """A running server whose output lines are printed with its name in front."""

    def __init__(self, service: Service, env: Mapping[str, str]) -> None:
        self.name = service.name
        self.proc = subprocess.Popen(  # noqa: S603
            service.argv,
            cwd=ROOT,
            env=dict(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C reaches us only; we stop the children in order
        )
        assert self.proc.stdout is not None
        self.reader = threading.Thread(target=self._copy_output, args=(self.proc.stdout,), daemon=True)
        self.reader.start()

    def _copy_output(self, stream: IO[bytes]) -> None:
        prefix = f"[{self.name}]".ljust(10)
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            with _print_lock:
                print(prefix + line, flush=True)

    def signal(self, sig: int) -> None:
        if self.proc.poll() is not None:
            return
        try:
            if hasattr(os, "killpg"):  # the whole group: any worker the server forked goes too
                os.killpg(self.proc.pid, sig)
            else:
                self.proc.terminate()
        except ProcessLookupError:
            pass


def answers(ready_url: str) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via an HTTP proxy
    try:
        with opener.open(ready_url, timeout=2) as response:
            return 200 <= response.status < 300
    except OSError:
        return False


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((HOST, port)) == 0


def wait_ready(child: Child, ready_url: str, stop: threading.Event) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while not answers(ready_url):
        if stop.is_set():
            raise Interrupted
        if child.proc.poll() is not None:
            raise SetupFailed(f"{child.name} exited with code {child.proc.returncode} before it was ready")
        if time.monotonic() > deadline:
            raise SetupFailed(f"{child.name} did not answer {ready_url} within {READY_TIMEOUT:.0f} s")
        stop.wait(0.2)


def stop_all(children: list[Child]) -> None:
    for child in reversed(children):
        child.signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    for child in reversed(children):
        try:
            child.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            say(f"{child.name} did not stop within {STOP_TIMEOUT:.0f} s: killing it")
            child.signal(getattr(signal, "SIGKILL", signal.SIGTERM))
            child.proc.wait()
        child.reader.join(timeout=2)


def banner(ports: Ports) -> None:
    lines = [
        "",
        f"  mock VNeID        {url(ports.vneid)}  (mode {os.environ.get('MOCK_VNEID_MODE') or 'oidc'})",
        f"  broker (OIDC OP)  {url(ports.broker)}",
        f"  demo RP           {url(ports.demo_rp)}",
        "",
        f"  open the demo relying party and press Đăng nhập: {url(ports.demo_rp)}",
        "  (mở trang demo và bấm Đăng nhập)",
        "  demo VNeID logins: see mock_vneid/README.md",
        f"  QR login: the mock phone is at {url(ports.vneid)}/phone (or follow the link under the QR code)",
        f"  officers' console: {url(ports.broker)}/console (grant a role: broker roles grant ...)",
        "  Ctrl-C stops all three.",
        "",
    ]
    with _print_lock:
        print("\n".join(lines), flush=True)


def supervise(children: list[Child], stop: threading.Event) -> int:
    """Wait for Ctrl-C (exit 0) or for a server to die on its own (exit 1)."""
    while not stop.wait(0.5):
        for child in children:
            if child.proc.poll() is not None:
                say(f"{child.name} exited with code {child.proc.returncode}; stopping the others")
                return 1
    return 0


def main() -> int:
    sys.stdout.reconfigure(line_buffering=True, errors="replace")  # type: ignore[union-attr]
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    ports = ports_from(os.environ)
    children: list[Child] = []
    try:
        env = child_env(os.environ, ports)
        broker, mock_vneid = script("broker"), script("mock-vneid")
        busy = [str(p) for p in (ports.vneid, ports.broker, ports.demo_rp) if port_in_use(p)]
        if busy:
            raise SetupFailed(f"port {', '.join(busy)} already in use (another `make run`?)")
        setup(broker, env, ports, stop)
        for service in services(ports, broker, mock_vneid):
            say(f"starting {service.name}: {shown(service.argv)}")
            children.append(Child(service, env))
            wait_ready(children[-1], service.ready_url, stop)
        banner(ports)
        return supervise(children, stop)
    except Interrupted:
        return 0
    except SetupFailed as failure:
        say(f"error: {failure}")
        return 1
    finally:
        stop_all(children)
        if children:
            say("stopped")


if __name__ == "__main__":
    sys.exit(main())
