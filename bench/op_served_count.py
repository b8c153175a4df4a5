"""Issue 7: the instructions a served login costs the whole server process: uvicorn, its HTTP parsing and
socket calls included, where ``op_inprocess.py --instructions`` counts the app's calls alone.

    .venv/bin/python bench/op_served_count.py [--floor] [--logins 200] [--warm-up 60] [--port-base 24000]

Starts the stack as ``op_login_steps.py`` does (PostgreSQL's database, mock VNeID), then the broker
(``broker serve``) or the floor (``bench/login_floor.py``, ``--floor``) under ``valgrind --tool=callgrind
--instr-atstart=no`` on the server CPU, logs in ``--warm-up`` citizens, switches callgrind's
instrumentation on (``callgrind_control -i on``), logs in ``--logins`` more one at a time (or ``--concurrency`` at a time), and dumps the
count (``callgrind_control -d``): the dump holds those logins' instructions, which the script prints per
login, with their split by binary (the interpreter, cryptography's RSA, the C extensions). Run one for
each server (two at once on different ``--port-base``) to compare them. The server's own timers are
switched off as in ``op_inprocess.py --instructions`` (under valgrind they fire fifty times as densely
per login).
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import tempfile
from collections import Counter
from pathlib import Path

import httpx
from op_login_steps import Steps, Target
from op_servers import (
    BIN,
    FLOOR_CLIENT,
    HOST,
    QUIET_TIMERS,
    SERVER_CPU,
    BrokerStack,
    drop_database,
    floor_port,
    pg_url,
    start,
    write_citizens,
)


def annotated(dump: Path) -> str:
    """``callgrind_annotate``'s tables of the dump, read once for both counts below."""
    return subprocess.run(["callgrind_annotate", str(dump)], capture_output=True, text=True).stdout


def per_login(table: str, logins: int) -> tuple[int, list[tuple[str, int]]]:
    """Instructions per login, and by binary (shared object), from ``callgrind_annotate``'s tables."""
    total = 0
    shares: Counter[str] = Counter()
    for line in table.splitlines():
        count, _, rest = line.strip().partition(" ")
        if not count[:1].isdigit():
            continue
        if "PROGRAM TOTALS" in rest:
            total = int(count.replace(",", ""))
        elif "[" in rest:
            shares[Path(rest.rsplit("[", 1)[1].rstrip("]")).name] += int(count.replace(",", ""))
    return total // logins, [(name, share // logins) for name, share in shares.most_common(12)]


def events_per_login(table: str, logins: int) -> list[tuple[str, int]]:
    """Every event callgrind counted (with ``--cache-sim``: reads, writes and each level's misses), per login."""
    names = next(line.split()[2:] for line in table.splitlines() if line.startswith("Events shown:"))
    totals_line = next(line for line in table.splitlines() if "PROGRAM TOTALS" in line)
    totals = [count for count in totals_line.split() if count[:1].isdigit()]  # not the "(100.0%)" beside each
    return [(name, int(total.replace(",", "")) // logins) for name, total in zip(names, totals, strict=True)]


async def _callgrind_control(*options: str | int) -> None:
    command = ["callgrind_control", *map(str, options)]
    await asyncio.to_thread(subprocess.run, command, check=True, capture_output=True)


async def drive(stack: BrokerStack, target: Target, numbers: list[str], args: argparse.Namespace) -> None:
    async with httpx.AsyncClient(timeout=120) as http:
        steps = Steps(stack, target)
        for n in range(args.warm_up):
            http.cookies.clear()
            await steps.login(http, numbers[-1 - n])
        await _callgrind_control("-i", "on", target.pid)
        if args.concurrency == 1:
            for n in range(args.logins):
                http.cookies.clear()
                await steps.login(http, numbers[n])
        else:
            await _at_once(steps, numbers[: args.logins], args.concurrency)
        await _callgrind_control("-d", target.pid)


async def _at_once(steps: Steps, numbers: list[str], concurrency: int) -> None:
    """The logins by ``concurrency`` clients at a time, each with its own cookies: the server's work when
    requests of different logins interleave, as under the bench's load, where one at a time they never do."""
    queue = iter(numbers)

    async def client() -> None:
        async with httpx.AsyncClient(timeout=600) as http:
            for who in queue:
                http.cookies.clear()
                await steps.login(http, who)

    await asyncio.gather(*(client() for _ in range(concurrency)))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--floor", action="store_true", help="count the floor instead of the broker")
    parser.add_argument("--logins", type=int, default=200)
    parser.add_argument("--warm-up", type=int, default=60)
    parser.add_argument(
        "--concurrency", type=int, default=1, help="logins in flight at once while counted (default 1)"
    )
    parser.add_argument(
        "--cache-sim",
        action="store_true",
        help="callgrind's cache simulation too: the first-level and last-level misses per login",
    )
    parser.add_argument("--port-base", type=int, default=24000, help="mock VNeID on +100")
    args = parser.parse_args()
    which = "floor" if args.floor else "broker"
    logs = Path(tempfile.mkdtemp(prefix="op_served_count_"))
    citizens = write_citizens(logs / "citizens.json", args.logins + args.warm_up + 10)
    numbers = [str(citizen["identification_number"]) for citizen in citizens]
    stack = BrokerStack(
        database=f"served_count_{which}_{args.port_base}",
        logs=logs,
        citizens_file=logs / "citizens.json",
        port=args.port_base,
        vneid_port=args.port_base + 100,
        extra_env=QUIET_TIMERS,
    )
    stack.up()
    assert stack.broker is not None
    stack.broker.stop()  # served again below, under valgrind
    out = logs / "callgrind.out"
    valgrind = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}"]
    if args.cache_sim:
        valgrind.append("--cache-sim=yes")
    if args.floor:
        port = floor_port(args.port_base)
        database = pg_url(stack.database, driver="postgresql")
        served = [str(BIN / "python"), str(Path(__file__).parent / "login_floor.py"), "--port", str(port)]
        served += [
            "--database-url",
            database,
            "--vneid-url",
            stack.vneid_url,
            "--redirect-uri",
            stack.redirect_uri,
        ]
        client: tuple[str, str] = FLOOR_CLIENT
    else:
        port = args.port_base
        # The interpreter itself, not bin/broker's script: valgrind runs what it is given.
        serve = "import sys, broker.cli; sys.argv[0] = 'broker'; broker.cli.main()"
        served = [str(BIN / "python"), "-c", serve, "serve", "--port", str(port)]
        client = (stack.login_client["client_id"], stack.login_client["client_secret"])
    url = f"http://{HOST}:{port}"
    # A start-up under valgrind takes minutes; start() pins it to the server CPU and waits for it.
    server = start(which, valgrind + served, stack.env(), SERVER_CPU, url, "/healthz", logs, timeout=600)
    try:
        asyncio.run(drive(stack, Target(url, server.pid, *client), numbers, args))
    finally:
        server.stop()
        stack.down()
        drop_database(stack.database)
    dump = next(logs.glob("callgrind.out*.1"), out)
    table = annotated(dump)
    total, shares = per_login(table, args.logins)
    print(f"{which}: {total:,} instructions per login (served), by binary:")
    for name, count in shares:
        print(f"  {count:>12,}  {name}")
    if args.cache_sim:
        for event, count in events_per_login(table, args.logins):
            print(f"  {count:>12,}  {event} per login")
    print(f"callgrind's dump: {dump}")


if __name__ == "__main__":
    main()
