"""Issue 7's benchmark: the broker (PostgreSQL, uvicorn) side by side with panva's oidc-provider.

    .venv/bin/python bench/op_bench.py [--seconds 5] [--concurrency 32] [--workers 1] [--growth 10000]

Both servers are pinned to CPU 0, the load (wrk, this client, mock VNeID) to CPU 1. Prints a table and
writes bench/results/op_bench.json. See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import uvloop

sys.path.insert(0, str(Path(__file__).parent))

from op_growth import growth_phases
from op_load import BrokerOp, Code, Http, Op, PeerOp, Phase, Tokens, complete_login, drive, wrk
from op_servers import (
    FLOOR_CLIENT,
    LOAD_CPU,
    PEER_PORT,
    BinaryProfile,
    BrokerStack,
    Profiler,
    Server,
    add_setting_options,
    binary_shares,
    drop_database,
    interpreter,
    setting_env,
    start_floor,
    start_peer,
    start_second_broker,
    top_functions,
    write_citizens,
)

TARGETS = {  # operation -> (peer operation it is compared with, highest ratio allowed)
    "discovery": ("discovery", 1.5),
    "jwks": ("jwks", 1.5),
    "userinfo": ("userinfo", 2.0),
    "introspection": ("introspection", 2.0),
    "code_exchange": ("code_exchange", 2.0),
    "refresh": ("code_exchange", 2.0),  # the peer issues no refresh tokens: its nearest token-endpoint call
    "login_many_citizens": ("login", 1.5),
}


T = TypeVar("T")


def on_uvloop(coroutine: Coroutine[Any, Any, T]) -> T:
    """The flows' load generator on uvloop, as the servers run: on asyncio's own loop its event handling was
    a tenth of its CPU, on the core it shares with mock VNeID (twenty-second round)."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coroutine)


async def round_trips(url: str, **request: Any) -> float | None:
    async with httpx.AsyncClient() as http:
        response = await http.request(url=url, **request)
    value = response.headers.get("x-db-round-trips")
    return float(value) if value is not None else None


async def _tokens(op: Op, who: str) -> Tokens:
    async with httpx.AsyncClient(timeout=30) as http:
        code, _ = await op.authorize(http, who)
        tokens, _ = await op.redeem(http, code)
    return tokens


def single_requests(server: Server, op: Op, tokens: Tokens, args: argparse.Namespace) -> list[Phase]:
    is_broker = isinstance(op, BrokerOp)
    userinfo = "/userinfo" if is_broker else "/me"
    introspect = "/introspect" if is_broker else "/token/introspection"
    basic = httpx.BasicAuth(op.client_id, op.client_secret)  # type: ignore[attr-defined]
    basic_header = basic._auth_header
    bearer = f"Bearer {tokens.access_token}"
    body = f"token={tokens.access_token}"
    trips = {}
    if is_broker:
        trips = {
            "discovery": asyncio.run(round_trips(f"{op.url}/.well-known/openid-configuration", method="GET")),
            "jwks": asyncio.run(round_trips(f"{op.url}/jwks", method="GET")),
            "userinfo": asyncio.run(
                round_trips(f"{op.url}{userinfo}", method="GET", headers={"Authorization": bearer})
            ),
            "introspection": asyncio.run(
                round_trips(
                    f"{op.url}{introspect}",
                    method="POST",
                    content=body,
                    headers={
                        "Authorization": basic_header,
                        "Content-Type": "application/x-www-form-urlencoded",
                    },
                )
            ),
        }
    plan: list[tuple[str, str, dict[str, str]]] = [
        ("discovery", "/.well-known/openid-configuration", {}),
        ("jwks", "/jwks", {}),
        ("userinfo", userinfo, {"auth": bearer}),
        ("introspection", introspect, {"auth": basic_header, "body": body}),
    ]
    phases = []
    for operation, path, extra in plan:
        with profiler(server, args, operation):
            phases.append(
                wrk(
                    server,
                    operation,
                    path,
                    seconds=args.seconds,
                    connections=args.concurrency,
                    auth=extra.get("auth", ""),
                    body=extra.get("body", ""),
                    round_trips=trips.get(operation),
                )
            )
    return phases


@contextlib.contextmanager
def profiler(server: Server, args: argparse.Namespace, phase: str) -> Iterator[None]:
    """py-spy on the Python servers, the broker and the floor (``--profile``); perf on every server
    (``--profile-binaries``)."""
    python = args.profile if server.name in ("broker", "floor") else None
    with (
        Profiler(server, python, phase, args.profile_native, args.profile_rate),
        BinaryProfile(server, args.profile_binaries, phase),
    ):
        yield


async def flows(
    server: Server, op: Op, citizens: list[str], args: argparse.Namespace, upstream: Server | None
) -> list[Phase]:
    conc, count, seconds = args.concurrency, args.flow_count, args.flow_seconds
    is_broker = isinstance(op, BrokerOp)
    order = list(range(len(citizens)))
    random.Random(1).shuffle(order)
    phases = []

    # ``order`` is read at each call: the measured phase starts after the warm-up's citizens.
    login = complete_login(op, lambda index: citizens[order[index % len(order)]])
    # Warm-up, not measured: every pooled connection prepares its statements once, the JIT of the peer.
    await drive(server, "warm-up", login, concurrency=conc, count=conc * 3, seconds=seconds)
    order = order[conc * 3 :] + order[: conc * 3]
    name = "login_many_citizens" if is_broker else "login"
    with profiler(server, args, name):
        phases.append(
            await drive(
                server, name, login, concurrency=conc, count=count, seconds=seconds, upstream=upstream
            )
        )

    codes: list[Code] = []

    async def collect(http: Http, index: int) -> int:
        code, _ = await op.authorize(http, citizens[order[(index + count) % len(order)]])
        codes.append(code)
        return 0

    # The peer's in-memory store keeps 1,000 entries: more codes in flight and it forgets the oldest.
    await drive(server, "collect codes", collect, concurrency=conc, count=min(count, 150), seconds=seconds)
    issued: list[Tokens] = []

    async def exchange(http: Http, index: int) -> int:
        tokens, trips = await op.redeem(http, codes[index])
        issued.append(tokens)
        return trips

    with profiler(server, args, "code_exchange"):
        phases.append(
            await drive(
                server, "code_exchange", exchange, concurrency=conc, count=len(codes), seconds=seconds
            )
        )
    if not is_broker:
        return phases

    refreshable = [tokens.refresh_token for tokens in issued if tokens.refresh_token]

    async def refresh(http: Http, index: int) -> int:
        _, trips = await op.refresh(http, refreshable[index])
        return trips

    with profiler(server, args, "refresh"):
        phases.append(
            await drive(server, "refresh", refresh, concurrency=conc, count=len(refreshable), seconds=seconds)
        )

    one = citizens[order[-1]]
    same_citizen = complete_login(op, lambda _: one)

    with profiler(server, args, "login_one_citizen"):
        phases.append(
            await drive(
                server,
                "login_one_citizen",
                same_citizen,
                concurrency=conc,
                count=count,
                seconds=seconds,
                upstream=upstream,
            )
        )
    return phases


# A login round's ratios: name -> (the server, the server its CPU per login is divided by), when both ran.
ROUND_RATIOS = {
    "ratio": ("broker", "peer_op"),
    "floor_ratio": ("floor", "peer_op"),
    "broker_2_ratio": ("broker_2", "peer_op"),
    "broker_2_broker_ratio": ("broker_2", "broker"),
    "broker_floor_ratio": ("broker", "floor"),
}


def of_rounds(rounds: list[dict[str, Any]], name: str) -> list[float]:
    """One of ``ROUND_RATIOS`` in every round that has it."""
    return [row[name] for row in rounds if name in row]


async def login_rounds(
    servers: list[tuple[Server, Op, Server | None]], citizens: list[str], args: argparse.Namespace
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The complete login of each server, one phase after the other, ``--login-rounds`` times: a slow drift
    of the shared machine (other tenants, the host's steal) then weighs on both servers of a round alike,
    where the main phases measure the broker's minutes before the peer's. The rounds take the citizens in an
    order of their own, each round a slice no round before took (most of them first logins, as in
    ``login_many_citizens``; the main phases logged in a tenth of the 10,000)."""
    rounds: list[dict[str, Any]] = []
    order = list(range(len(citizens)))
    random.Random(2).shuffle(order)
    per_round = args.flow_count
    spare = [citizens[i] for i in reversed(order)]  # from the end of the rounds' order
    warmed = await warm_up(servers, spare, args) if args.warm_up else []
    rewarmed = args.warm_up  # the re-warm's logins follow the warm-up's
    for index in range(args.login_rounds):
        row: dict[str, Any] = {"round": index + 1}
        # Each round starts with the next server, so that none is always measured right after the same
        # other one (seventeenth round: the broker, first in every round until then, looked costlier there
        # for another reason, its statements' plans; no cost of the position itself was found).
        start = index % len(servers)
        row["order"] = [server.name for server, _, _ in servers[start:] + servers[:start]]
        for server, op, upstream in servers[start:] + servers[:start]:

            def citizen_of(n: int, first: int = index * per_round) -> str:
                return citizens[order[(first + n) % len(order)]]

            if args.rewarm:

                def spare_of(n: int, first: int = rewarmed) -> str:
                    return spare[(first + n) % len(spare)]

                await drive(
                    server,
                    "re-warm",
                    complete_login(op, spare_of),
                    concurrency=args.concurrency,
                    count=args.rewarm,
                    seconds=args.flow_seconds,
                    upstream=upstream,
                )
                rewarmed += args.rewarm
            with profiler(server, args, f"login_round_{index + 1}"):
                phase = await drive(
                    server,
                    f"login round {index + 1}",
                    complete_login(op, citizen_of),
                    concurrency=args.concurrency,
                    count=per_round,
                    seconds=args.flow_seconds,
                    upstream=upstream,
                )
            summary = phase.summary()
            row[server.name] = {
                key: summary[key]
                for key in (
                    "ops",
                    "errors",
                    "cpu_ms_per_op",
                    "server_core_busy",
                    "others_on_server_core",
                    "client_core_busy",
                    "system_share",
                    "p99_ms",
                )
            }
            if phase.errors:
                row[server.name]["notes"] = [note for note in phase.notes if "failed" in note]
        for name, (mine, theirs) in ROUND_RATIOS.items():
            if mine in row and theirs in row and row[theirs]["cpu_ms_per_op"]:
                row[name] = round(row[mine]["cpu_ms_per_op"] / row[theirs]["cpu_ms_per_op"], 2)
        print(json.dumps(row), flush=True)
        rounds.append(row)
    return warmed, rounds


async def warm_up(
    servers: list[tuple[Server, Op, Server | None]], citizens: list[str], args: argparse.Namespace
) -> list[dict[str, Any]]:
    """``--warm-up`` logins on each server before the rounds, not counted: the peer's JavaScript engine
    compiles its hot code over its first thousands of logins (sixteenth round: 1.84 ms per login over its
    first 1,800, 1.26 over the next 1,800, then 0.99-1.11), so rounds that start cold compare the broker's
    steady state with the peer's warm-up. Printed for the record; ``citizens``: from the end of the
    rounds' order, so the rounds' first logins stay first logins while they do not reach them."""
    warmed = []
    for server, op, upstream in servers:
        phase = await drive(
            server,
            "warm-up",
            complete_login(op, lambda n: citizens[n % len(citizens)]),
            concurrency=args.concurrency,
            count=args.warm_up,
            seconds=max(args.flow_seconds, args.warm_up / 20),
            upstream=upstream,
        )
        summary = phase.summary()
        warmed.append({"server": server.name, **{k: summary[k] for k in ("ops", "errors", "cpu_ms_per_op")}})
        print(json.dumps({"warm_up": warmed[-1]}), flush=True)
    return warmed


def median(values: list[float]) -> float | None:
    return round(statistics.median(values), 3) if values else None


def median_interval(values: list[float], confidence: float = 0.95) -> list[float] | None:
    """A distribution-free interval for the median of the rounds' ratios (the binomial's order statistics):
    the ``k``-th smallest and ``k``-th largest round, ``k`` the largest for which each side misses the
    true median with probability at most ``(1 - confidence) / 2``. The rounds move by a third from one to
    the next (bench/README.md): a median alone does not say how far below the target it is. None when
    there are too few rounds for the confidence (six for 95 %)."""
    ordered, n = sorted(values), len(values)
    tail, k = 0.0, 0
    while True:
        tail += math.comb(n, k) / 2**n  # P(fewer than k + 1 rounds below the median)
        if tail > (1 - confidence) / 2:
            break
        k += 1
    return [ordered[k - 1], ordered[n - k]] if k >= 1 else None


def ratios(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by = {(row["target"], row["operation"]): row for row in results}
    rows = []
    for operation, (peer_operation, limit) in TARGETS.items():
        mine, theirs = by.get(("broker", operation)), by.get(("peer_op", peer_operation))
        if not mine or not theirs or not mine["cpu_ms_per_op"] or not theirs["cpu_ms_per_op"]:
            continue
        ratio = mine["cpu_ms_per_op"] / theirs["cpu_ms_per_op"]
        rows.append(
            {
                "operation": operation,
                "broker_cpu_ms": mine["cpu_ms_per_op"],
                "peer_cpu_ms": theirs["cpu_ms_per_op"],
                "ratio": round(ratio, 2),
                "target": limit,
                "met": ratio <= limit,
            }
        )
    return rows


def table(results: list[dict[str, Any]], compared: list[dict[str, Any]]) -> str:
    head = f"{'target':<8} {'operation':<22} {'conc':>4} {'ops':>6} {'err':>4} {'req/s':>8} {'p50':>7} {'p95':>7} "
    head += f"{'p99':>7} {'cpu ms/op':>9} {'busy':>5} {'db rt':>5}"
    lines = [head, "-" * len(head)]
    for row in results:
        lines.append(
            f"{row['target']:<8} {row['operation']:<22} {row['concurrency']:>4} {row['ops']:>6} {row['errors']:>4} "
            f"{row['req_per_s']:>8} {_f(row['p50_ms']):>7} {_f(row['p95_ms']):>7} {_f(row['p99_ms']):>7} "
            f"{_f(row['cpu_ms_per_op'], 3):>9} {row['server_core_busy']:>5} {_f(row['db_round_trips_per_op'], 1):>5}"
        )
        for note in row["notes"]:
            lines.append(f"{'':<31}! {note}")
    if compared:
        lines += ["", f"{'operation':<22} {'broker':>8} {'peer':>8} {'ratio':>6} {'target':>6}  met"]
        for row in compared:
            lines.append(
                f"{row['operation']:<22} {row['broker_cpu_ms']:>8} {row['peer_cpu_ms']:>8} {row['ratio']:>6} "
                f"{row['target']:>6}  {'yes' if row['met'] else 'NO'}"
            )
        if any(row["operation"] == "login_many_citizens" for row in compared):
            lines.append(
                "(login_many_citizens: the peer's first logins, its engine still compiling; the login's "
                "target is judged by --login-rounds, after --warm-up)"
            )
    return "\n".join(lines)


def _f(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "interpreter": interpreter(sys.executable),
        "kernel": platform.release(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5, help="per wrk phase")
    parser.add_argument("--flow-seconds", type=float, default=10, help="at most, per flow phase")
    parser.add_argument("--flow-count", type=int, default=600, help="at most, per flow phase")
    parser.add_argument(
        "--warm-up",
        type=int,
        default=4000,
        help="with --login-rounds: this many logins on each server first, not counted (the peer's engine "
        "reaches its steady cost after a few thousand); 0: none",
    )
    parser.add_argument(
        "--rewarm",
        type=int,
        default=0,
        help="with --login-rounds: this many logins on each server right before its phase in every "
        "round, not counted, so that no server is measured after idling through the others' phases "
        "(twenty-third round: the peer cost up to a third more after a minute idle)",
    )
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--citizens", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--no-peer", action="store_true")
    parser.add_argument(
        "--login-rounds",
        type=int,
        default=0,
        help="then this many rounds of the complete login, broker and peer one after the other; the "
        "median of the rounds' ratios is printed",
    )
    parser.add_argument(
        "--floor",
        action="store_true",
        help="with --login-rounds: bench/login_floor.py's login too in each round (the broker's I/O, "
        "none of its code)",
    )
    parser.add_argument(
        "--second-python",
        type=Path,
        default=None,
        metavar="PYTHON",
        help="with --login-rounds: the same broker served by this interpreter too (a venv's bin/python, "
        "the broker installed in it), in each round beside the first (bench/README.md, seventeenth round)",
    )
    parser.add_argument(
        "--second-tree",
        type=Path,
        default=None,
        metavar="CHECKOUT",
        help="with --login-rounds: the broker of this checkout too (e.g. `git worktree add ../before "
        "COMMIT`), on this interpreter, in each round beside the first: before and after a change in the "
        "same rounds (bench/README.md, nineteenth round)",
    )
    parser.add_argument(
        "--only",
        choices=["wrk", "flows", "rounds"],
        default=None,
        help="rounds: the login rounds alone (with --login-rounds), no main phase",
    )
    parser.add_argument(
        "--growth", type=int, default=0, help="then synthesise this many past logins of one citizen"
    )
    parser.add_argument(
        "--purge-rows", type=int, default=100_000, help="with --growth: past logins of everyone"
    )
    parser.add_argument("--profile-top", type=int, default=25)
    parser.add_argument("--profile-native", action="store_true", help="py-spy --native (C frames too)")
    parser.add_argument("--profile-rate", type=int, default=250, help="py-spy's samples per second")
    parser.add_argument(
        "--profile", type=Path, default=None, help="py-spy the broker per phase into this folder"
    )
    parser.add_argument(
        "--profile-binaries",
        type=Path,
        default=None,
        help="perf record each server per phase into this folder (Debian's linux-perf): CPU by binary",
    )
    parser.add_argument(
        "--port-base",
        type=int,
        default=18000,
        help="broker on this port, mock VNeID on +100, the RP's redirect URI on +999 (the peer keeps 4000)",
    )
    add_setting_options(parser)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "op_bench.json")
    args = parser.parse_args()
    if args.second_python and args.second_tree:
        parser.error("--second-python or --second-tree: one second broker")
    if (
        args.floor or args.second_python or args.second_tree or args.only == "rounds"
    ) and not args.login_rounds:
        parser.error(
            "--floor, --second-python, --second-tree and --only rounds need the login rounds: "
            "give --login-rounds N"
        )

    os.sched_setaffinity(0, {int(LOAD_CPU)})
    for folder in (args.profile, args.profile_binaries):
        if folder:
            folder.mkdir(parents=True, exist_ok=True)
    logs = Path(tempfile.mkdtemp(prefix="op_bench_"))
    citizens_file = logs / "citizens.json"
    citizens = [str(c["identification_number"]) for c in write_citizens(citizens_file, args.citizens)]
    # The port in the name too: two runs on --port-base apart may start within the same second.
    database = f"perf_bench_{args.port_base}_{int(time.time())}"
    # One pooled connection per concurrent request: with fewer, the pool's overflow connections were opened
    # (TLS negotiation, every statement prepared again) and closed under load, 8 % of userinfo's CPU.
    pool = {"BROKER_DATABASE_POOL_SIZE": str(max(20, args.concurrency))}
    stack = BrokerStack(
        database,
        logs,
        citizens_file,
        port=args.port_base,
        vneid_port=args.port_base + 100,
        workers=args.workers,
        extra_env=pool | setting_env(args),
    )
    peer: Server | None = None
    floor: Server | None = None
    second: Server | None = None
    results: list[Phase] = []
    growth: dict[str, Any] = {}
    rounds: list[dict[str, Any]] = []
    warmed: list[dict[str, Any]] = []
    try:
        stack.up()
        assert stack.broker is not None

        # The bench's relying party at a broker of this stack (the first, or the second's own issuer).
        def broker_op_at(url: str) -> BrokerOp:
            client, login_client = stack.client, stack.login_client
            logins = BrokerOp(
                url,
                login_client["client_id"],
                login_client["client_secret"],
                stack.redirect_uri,
                "Bench@2024",
            )
            return BrokerOp(
                url, client["client_id"], client["client_secret"], stack.redirect_uri, "Bench@2024", logins
            )

        broker_op = broker_op_at(stack.broker_url)
        servers: list[tuple[Server, Op, Server | None]] = [(stack.broker, broker_op, stack.vneid)]
        if not args.no_peer:
            peer = start_peer(logs)
            servers.append((peer, PeerOp(f"http://127.0.0.1:{PEER_PORT}"), None))
        for server, op, upstream in servers:
            tokens = on_uvloop(_tokens(op, citizens[0]))
            if args.only in (None, "wrk"):
                results += single_requests(server, op, tokens, args)
            if args.only in (None, "flows"):
                results += on_uvloop(flows(server, op, citizens, args, upstream))
        if args.login_rounds:
            in_rounds = list(servers)
            if args.floor:
                floor = start_floor(stack, logs)
                floor_op = BrokerOp(floor.url, *FLOOR_CLIENT, stack.redirect_uri, "Bench@2024")
                in_rounds.insert(1, (floor, floor_op, stack.vneid))
            if args.second_python or args.second_tree:
                second = start_second_broker(stack, args.second_python, logs, args.second_tree)
                in_rounds.insert(1, (second, broker_op_at(second.url), stack.vneid))
            warmed, rounds = on_uvloop(login_rounds(in_rounds, citizens, args))
        if args.growth:
            growth = on_uvloop(growth_phases(stack, broker_op, citizens, args))
        rss = stack.broker.worker_rss_mb()
    finally:
        stack.down()
        for other in (peer, floor, second):
            if other is not None:
                other.stop()
        drop_database(database)
    rows = [phase.summary() for phase in results]
    compared = ratios(rows)
    print(table(rows, compared))
    print(f"\nbroker RSS per worker (MB): {rss}; logs in {logs}")
    if rounds:
        ratios_of_rounds = of_rounds(rounds, "ratio")
        print(
            f"\ncomplete login, {len(rounds)} rounds: ratios {ratios_of_rounds}, "
            f"median {median(ratios_of_rounds)} (target 1.5), 95 % interval of the median "
            f"{median_interval(ratios_of_rounds)}"
        )
        floors = of_rounds(rounds, "floor_ratio")
        if floors:
            print(
                f"the floor (bench/login_floor.py) beside the peer: ratios {floors}, median {median(floors)}, "
                f"interval {median_interval(floors)}"
            )
        second_ratios = of_rounds(rounds, "broker_2_ratio")
        second_name = f"of {args.second_tree}" if args.second_tree else f"on {args.second_python}"
        if second_ratios:
            beside = of_rounds(rounds, "broker_2_broker_ratio")
            print(
                f"the broker {second_name} beside the peer: ratios {second_ratios}, median "
                f"{median(second_ratios)}; beside the broker of this checkout on {sys.executable}: ratios {beside}, "
                f"median {median(beside)}"
            )
        above = of_rounds(rounds, "broker_floor_ratio")
        if above:
            print(
                f"the broker beside the floor: ratios {above}, median {median(above)}, "
                f"interval {median_interval(above)}"
            )
    if growth:
        print(json.dumps(growth, indent=2))
    if args.profile:
        for path in sorted([*args.profile.glob("broker_*.txt"), *args.profile.glob("floor_*.txt")]):
            print(f"\nprofile {path.name}: function, % of samples on stack, % innermost")
            for function, inclusive, own in top_functions(path, args.profile_top):
                print(f"  {inclusive:5.1f} {own:5.1f}  {function}")
    binaries = {}
    if args.profile_binaries:
        for path in sorted(args.profile_binaries.glob("*.perf")):
            binaries[path.stem] = shares = binary_shares(path)
            print(
                f"\nCPU by binary, {path.stem}: "
                + ", ".join(f"{name} {share:.1f}%" for name, share in shares)
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "machine": machine(),
        "settings": {k: str(v) for k, v in vars(args).items()},
        "results": rows,
        "ratios": compared,
        "broker_rss_mb": rss,
        "growth": growth,
        "login_rounds_warm_up": warmed,
        "login_rounds": rounds,
        "login_rounds_median_ratio": median(of_rounds(rounds, "ratio")),
        "login_rounds_median_interval_95": median_interval(of_rounds(rounds, "ratio")),
        "floor_rounds_median_ratio": median(of_rounds(rounds, "floor_ratio")),
        "second_python": interpreter(args.second_python) if args.second_python else None,
        "second_tree": str(args.second_tree) if args.second_tree else None,
        "broker_2_rounds_median_ratio": median(of_rounds(rounds, "broker_2_ratio")),
        "broker_2_broker_rounds_median_ratio": median(of_rounds(rounds, "broker_2_broker_ratio")),
        "broker_floor_rounds_median_ratio": median(of_rounds(rounds, "broker_floor_ratio")),
        "cpu_by_binary": binaries,
    }
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
