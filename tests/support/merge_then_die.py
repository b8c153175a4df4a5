"""Run as a separate process: starts the Case 3 merge a citizen chose, and SIGKILLs itself half way.

Usage: python -m tests.support.merge_then_die DATABASE_URL FLOW_ID BROWSER KEEP_ID STEP
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from broker.app import build_registry
from broker.login import choose_account
from broker.settings import Settings


async def main(database_url: str, flow_id: str, browser: str, keep_id: int, step: str) -> None:
    registry = build_registry(Settings(database_url=database_url))

    async def die_at(reached: str) -> None:
        if reached == step:
            os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, no rollback by us: the database must cope

    await choose_account.choose(registry, flow_id, browser, keep_id, checkpoint=die_at)


if __name__ == "__main__":
    url, flow, browser_id, keep, step_name = sys.argv[1:]
    asyncio.run(main(url, flow, browser_id, int(keep), step_name))
