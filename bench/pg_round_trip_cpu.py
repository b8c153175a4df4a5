"""The CPU one PostgreSQL round trip costs the process that makes it: a prepared ``SELECT $1`` over asyncpg,
repeated, measured as the process's CPU time (utime+stime) per round trip and as wall time.

    taskset -c 0 .venv/bin/python bench/pg_round_trip_cpu.py [--count 3000]

Run it with PostgreSQL pinned to the same core (``taskset -a -p -c 0 <pid>`` for every postgres process)
and then to the other, to see what a wake-up across cores costs on the machine (bench/README.md, ninth
round). The broker's login makes six round trips.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

import asyncpg

URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


async def measure(count: int) -> tuple[float, float]:
    connection = await asyncpg.connect(URL)
    try:
        statement = await connection.prepare("select $1::int")
        for _ in range(200):  # warm: the statement, the socket, the caches
            await statement.fetchval(1)
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(count):
            await statement.fetchval(1)
        return (time.process_time() - cpu) / count * 1e6, (time.perf_counter() - wall) / count * 1e6
    finally:
        await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=3000)
    args = parser.parse_args()
    cpu_us, wall_us = asyncio.run(measure(args.count))
    print(
        f"CPU µs per round trip {cpu_us:.1f}, wall µs per round trip {wall_us:.1f} (on CPUs {sorted(os.sched_getaffinity(0))})"
    )


if __name__ == "__main__":
    main()
