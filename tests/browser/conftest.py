"""Browser tests: Debian's Chromium driven by Playwright for Python, against real servers on loopback.

One stack per test module (mock VNeID, the broker on SQLite, two demo relying parties), one Chromium per
module; each test gets fresh browser contexts. Every page of the broker and mock VNeID a test visits goes
through ``look_at``: axe-core (injected from tests/browser/node, see .ci/run) must find no serious or
critical violation, and screenshots at 360 and 1280 px go to var/screenshots/ (CI artefacts).
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright import sync_api as playwright_api

from broker.admin import clients, roles
from broker.admin.legacy_import import import_legacy_csv
from broker.app import build_registry, close_registry, create_app
from broker.settings import Settings
from mock_vneid.app import create_app as create_mock_vneid
from mock_vneid.settings import MockSettings
from tests.support.databases import SqliteDatabases
from tests.support.servers import LiveServer, free_port

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "examples") not in sys.path:  # the demo relying party, as tests/demo_rp imports it
    sys.path.insert(0, str(ROOT / "examples"))
CHROMIUM = Path(os.environ.get("BROWSER_TESTS_CHROMIUM", "/usr/bin/chromium"))
AXE = ROOT / "tests/browser/node/node_modules/axe-core/axe.min.js"
SCREENSHOTS = ROOT / "var/screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WIDTHS = (360, 1280)
PASSWORD = "Vneid@2024"


def _missing(what: str) -> None:
    # CI installs both (see .ci/run): there a missing one is a failure, elsewhere a clear skip.
    if os.environ.get("CI"):
        pytest.fail(f"{what} is missing; .ci/run installs it")
    pytest.skip(f"{what} is missing (apt-get install chromium; npm ci --prefix tests/browser/node)")


@dataclass
class World:
    """The servers of one test module, and the operator's hands on them."""

    broker: LiveServer
    vneid: LiveServer
    settings: Settings
    rp_urls: list[str]
    demo_rps: list[LiveServer] = field(default_factory=list)

    @property
    def broker_url(self) -> str:
        return self.broker.url

    def run(self, work: Callable[[Any], Any]) -> Any:
        """Runs an operator's async step (import, grant, ...) against the broker's database."""

        async def go() -> Any:
            registry = build_registry(self.settings)
            try:
                return await work(registry)
            finally:
                await close_registry(registry)

        # In a thread of its own: Playwright's sync API keeps an event loop running in this one.
        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(asyncio.run, go()).result()

    def import_legacy(self, csv_text: str) -> None:
        async def work(registry: Any) -> None:
            report = await import_legacy_csv(registry, io.StringIO(csv_text))
            assert not report.errors, report.errors

        self.run(work)

    def grant(self, number: str, *names: str) -> None:
        async def work(registry: Any) -> None:
            for name in names:
                target = roles.Target(identification_number=number)
                await roles.grant(registry, actor="cli:browser-test", role=name, target=target)

        self.run(work)


@pytest.fixture(scope="module")
def world(sqlite_databases: SqliteDatabases, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    from demo_rp.app import create_app as create_demo_rp
    from demo_rp.settings import DemoRPSettings

    keys = tmp_path_factory.mktemp("vneid-keys")
    vneid_port, broker_port = free_port(), free_port()
    vneid_url, broker_url = f"http://127.0.0.1:{vneid_port}", f"http://127.0.0.1:{broker_port}"
    settings = Settings(
        database_url=sqlite_databases.fresh(),
        issuer=broker_url,
        vneid_issuer=vneid_url,
        source_system_names={"dvc-tinh": "Cổng Dịch vụ công tỉnh", "motcua-huyen": "Một cửa điện tử huyện"},
    )
    vneid = LiveServer(
        create_mock_vneid(
            MockSettings(
                issuer=vneid_url,
                key_file=keys / "signing_key.pem",
                redirect_uris=[f"{broker_url}/login/vneid/callback"],
            )
        ),
        vneid_port,
    ).start()
    broker = LiveServer(create_app(settings), broker_port).start()
    # Two relying parties on two host names: cookies ignore ports, so 127.0.0.1 and localhost keep
    # their sessions apart as two sites would.
    rp_urls = [f"http://127.0.0.1:{free_port()}", f"http://localhost:{free_port()}"]
    world = World(broker, vneid, settings, rp_urls)
    titles = ["Cổng dịch vụ công tỉnh A", "Hệ thống TTHC Bộ B"]

    async def register(registry: Any) -> list[Any]:
        return [
            await clients.create(
                registry,
                name=title,
                redirect_uris=[f"{url}/callback"],
                post_logout_redirect_uris=[f"{url}/"],
            )
            for title, url in zip(titles, rp_urls, strict=True)
        ]

    for created, url, title in zip(world.run(register), rp_urls, titles, strict=True):
        port = int(url.rsplit(":", 1)[1])
        demo_settings = DemoRPSettings(
            issuer=broker_url,
            base_url=url,
            client_id=created.client_id,
            client_secret=created.client_secret,
            title=title,
        )
        world.demo_rps.append(LiveServer(create_demo_rp(demo_settings), port).start())
    yield world
    for server in [*world.demo_rps, broker, vneid]:
        server.stop()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not CHROMIUM.exists():
        _missing("Debian's chromium")
    if not AXE.exists():
        _missing("axe-core")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(chromium: Any) -> Iterator[Callable[[], Any]]:
    """Pages in fresh browser contexts (a person's own browser each); closed after the test."""
    contexts: list[Any] = []

    def make() -> Any:
        # bypass_csp: the broker's CSP forbids scripts, and axe-core is a script the test injects.
        context = chromium.new_context(
            viewport={"width": 1280, "height": 900}, bypass_csp=True, locale="vi-VN"
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture(scope="session")
def axe_source() -> str:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return AXE.read_text(encoding="utf-8") if AXE.exists() else ""


@pytest.fixture
def look_at(axe_source: str) -> Callable[[Any, str], None]:
    """axe-core on the page (no serious or critical violation), then screenshots at 360 and 1280 px."""

    def check(page: Any, name: str) -> None:
        page.wait_for_load_state("load")
        page.add_script_tag(content=axe_source)
        result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
        assert result["testEngine"]["name"] == "axe-core"
        serious = [
            {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
            for v in result["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        assert serious == [], f"{name}: {json.dumps(serious, ensure_ascii=False)}"
        size = page.viewport_size
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 800})
            page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)
        page.set_viewport_size(size)

    return check
