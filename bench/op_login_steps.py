"""Issue 7: the broker's CPU per step of a complete login, one login at a time.

    .venv/bin/python bench/op_login_steps.py --port-base 19000 [--logins 300] [--out FILE]

Starts the same stack as `op_bench.py` (PostgreSQL, mock VNeID seeded with 10,000 citizens, the broker
pinned to CPU 0), logs in one login after another (no concurrency: every step's CPU is the broker's own
for that request), and reads the broker's on-CPU time (`/proc/PID/task/*/schedstat`, in nanoseconds)
before and after each of its five requests. Two phases: first logins of many citizens, then one citizen
again and again. Prints CPU ms per step and per login (mean over the phase) and the round trips; what
`op_bench.py` measures under load is the same work plus what concurrency adds (queueing, pool waits).

With ``--growth-rows N`` both phases run again after N past logins of everyone and N of the one citizen
were written (``op_growth.synthesise``: flows, sessions, codes, tokens, audit rows): a login's cost per
step with and without them, one login at a time, where no concurrency blurs it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import op_growth
from op_load import _expect_redirect, authorization_query, form_on, prepared_vneid_button
from op_servers import (
    FLOOR_CLIENT,
    LOAD_CPU,
    BrokerStack,
    Server,
    add_setting_options,
    drop_database,
    process_tree,
    setting_env,
    start_floor,
    write_citizens,
)

STEPS = ("authorize", "login_page", "vneid_start", "callback", "token")


def on_cpu_ns(root: int) -> int:
    total = 0
    for pid in process_tree(root):
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{pid}/task/{task}/schedstat") as stat:
                    total += int(stat.read().split()[0])
            except OSError:
                continue
    return total


@dataclass(frozen=True)
class Target:
    """The server a login goes to: the broker, or the floor (``--floor``), and its relying party."""

    url: str
    pid: int
    client_id: str
    client_secret: str


class Steps:
    def __init__(self, stack: BrokerStack, target: Target) -> None:
        self.stack, self.target, self.pid = stack, target, target.pid
        self.cpu: dict[str, list[float]] = defaultdict(list)
        self.trips: dict[str, list[int]] = defaultdict(list)

    async def _timed(self, step: str, request: httpx.Request, http: httpx.AsyncClient) -> httpx.Response:
        before = on_cpu_ns(self.pid)
        response = await http.send(request)
        self.cpu[step].append((on_cpu_ns(self.pid) - before) / 1e6)
        self.trips[step].append(int(response.headers.get("x-db-round-trips", 0)))
        return response

    async def login(self, http: httpx.AsyncClient, who: str) -> None:
        stack, target = self.stack, self.target
        verifier, params = authorization_query(target.client_id, stack.redirect_uri)
        authorized = await self._timed(
            "authorize", http.build_request("GET", f"{target.url}/authorize", params=params), http
        )
        # Since the eighth round /authorize answers with the login page itself; before, it redirected to it.
        page = (
            authorized
            if authorized.status_code == 200
            else await self._timed(
                "login_page", http.build_request("GET", _expect_redirect(authorized)), http
            )
        )
        prepared = prepared_vneid_button(page)  # since the eighth round: to VNeID with no broker request
        if prepared is not None:
            vneid_page = await http.get(prepared[0], params=prepared[1])
        else:
            action, fields = form_on(page, "/login/vneid")
            started = await self._timed("vneid_start", http.build_request("POST", action, data=fields), http)
            vneid_page = await http.get(_expect_redirect(started))
        action, fields = form_on(vneid_page, "password")
        signed_in = await http.post(action, data={**fields, "username": who, "password": "Bench@2024"})
        callback = await self._timed("callback", http.build_request("GET", _expect_redirect(signed_in)), http)
        query = parse_qs(urlsplit(_expect_redirect(callback)).query)
        token = await self._timed(
            "token",
            http.build_request(
                "POST",
                f"{target.url}/token",
                data={
                    "grant_type": "authorization_code",
                    "code": query["code"][0],
                    "redirect_uri": stack.redirect_uri,
                    "code_verifier": verifier,
                },
                headers={
                    "Authorization": httpx.BasicAuth(target.client_id, target.client_secret)._auth_header
                },
            ),
            http,
        )
        if token.status_code != 200:
            raise RuntimeError(f"token: {token.status_code} {token.text[:300]}")

    def summary(self) -> dict[str, object]:
        # Per login, over all the phase's logins: a step some logins skip counts for its share (since the
        # eighth round no login_page request, and a VNeID start only where /authorize could not prepare it).
        logins = len(self.cpu["token"])
        taken = [step for step in STEPS if self.cpu[step]]
        steps = {step: round(sum(self.cpu[step]) / logins, 3) for step in taken}
        trips = {step: round(sum(self.trips[step]) / logins, 2) for step in taken}
        return {
            "logins": logins,
            "requests_per_step": {step: len(self.cpu[step]) for step in taken},
            "cpu_ms_per_step": steps,
            "cpu_ms_per_login": round(sum(steps.values()), 3),
            "round_trips_per_step": trips,
            "round_trips_per_login": round(sum(trips.values()), 1),
        }


async def run(
    stack: BrokerStack,
    citizens: list[str],
    logins: int,
    warm_up: int,
    growth_rows: int = 0,
    floor: Server | None = None,
) -> dict[str, object]:
    """With ``growth_rows``: the two phases again after that many past logins of everyone and as many
    again of the one citizen were synthesised (``op_growth.synthesise``), each phase's citizens new to it.
    With ``floor``: each phase on the floor too, right after the broker's, with citizens of its own."""
    assert stack.broker is not None
    broker = Target(
        stack.broker_url, stack.broker.pid, stack.client["client_id"], stack.client["client_secret"]
    )
    targets = {"": broker}
    if floor is not None:
        targets["floor_"] = Target(floor.url, floor.pid, *FLOOR_CLIENT)
    results: dict[str, object] = {}
    async with httpx.AsyncClient(timeout=30) as http:
        for index, target in enumerate(targets.values()):
            warm = Steps(stack, target)
            for n in range(warm_up):
                http.cookies.clear()
                await warm.login(http, citizens[-1 - index * warm_up - n])

        async def phases(suffix: str, first: int) -> None:
            for index, (prefix, target) in enumerate(targets.items()):
                many = Steps(stack, target)
                for n in range(first + index * logins, first + (index + 1) * logins):
                    http.cookies.clear()
                    await many.login(http, citizens[n])
                results[f"{prefix}login_many_citizens{suffix}"] = many.summary()
                one = Steps(stack, target)
                for _ in range(logins):
                    http.cookies.clear()
                    await one.login(http, citizens[index])
                results[f"{prefix}login_one_citizen{suffix}"] = one.summary()

        await phases("", len(targets))
        if growth_rows:
            everyone = await op_growth.account_ids(stack)
            the_one = await op_growth.account_ids(stack, [citizens[0]])
            seconds = await op_growth.synthesise(stack, "steps_all_", growth_rows, everyone, 0.5, 2)
            seconds += await op_growth.synthesise(stack, "steps_one_", growth_rows, the_one, 0.5, 2)
            results["growth"] = {
                "rows_per_table": 2 * growth_rows,
                "synthesised_in_seconds": round(seconds, 1),
            }
            await phases(f"_after_{growth_rows}_of_everyone_and_of_one", len(targets) * (logins + 1))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--logins", type=int, default=300, help="per phase")
    parser.add_argument("--warm-up", type=int, default=50)
    parser.add_argument(
        "--floor",
        action="store_true",
        help="each phase on bench/login_floor.py too: the broker's I/O with none of its code, step by step",
    )
    parser.add_argument(
        "--growth-rows",
        type=int,
        default=0,
        help="then synthesise this many past logins of everyone, and as many of the one citizen, and "
        "measure both phases again",
    )
    parser.add_argument("--port-base", type=int, default=18000)
    add_setting_options(parser)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    os.sched_setaffinity(0, {int(LOAD_CPU)})
    logs = Path(tempfile.mkdtemp(prefix="op_login_steps_"))
    citizens_file = logs / "citizens.json"
    citizens = [str(c["identification_number"]) for c in write_citizens(citizens_file, 10_000)]
    database = f"perf_steps_{args.port_base}_{int(time.time())}"
    stack = BrokerStack(
        database,
        logs,
        citizens_file,
        port=args.port_base,
        vneid_port=args.port_base + 100,
        extra_env=setting_env(args),
    )
    floor: Server | None = None
    try:
        stack.up()
        if args.floor:
            floor = start_floor(stack, logs)
        results = asyncio.run(run(stack, citizens, args.logins, args.warm_up, args.growth_rows, floor))
    finally:
        if floor is not None:
            floor.stop()
        stack.down()
        drop_database(database)
    results["load_average"] = os.getloadavg()
    text = json.dumps(results, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)


if __name__ == "__main__":
    main()
