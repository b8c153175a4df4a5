"""The officers' console at /console through real servers (issue 11): staff sign in through the broker
with VNeID, see what their roles allow, resolve a Case 3 review, look accounts up, create organisation
accounts (citizens refused after the cut-off), read the clean-up dashboard and the relying parties; every
action audited with the officer's sub, every POST CSRF-protected, the session tied to the broker's."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from sqlmodel import select

from broker.admin import roles
from broker.app import build_registry
from broker.registry import Registry
from broker.store.tables import Account, AuditEntry, ReviewItem
from tests.conftest import DEMO_PASSWORD, Stack
from tests.support.browser import Browser, RelyingParty
from tests.support.html_forms import form_posting_to, form_with
from tests.support.legacy import csv_text, row

MAI = "048192005566"  # Võ Thị Mai: the officer at the desk
BINH, BINH_CMND = "001190023456", "023456789"


@asynccontextmanager
async def registry_of(stack: Stack) -> AsyncIterator[Registry]:
    registry = build_registry(stack.settings)
    try:
        yield registry
    finally:
        await registry.vneid.aclose()
        await registry.db.dispose()


async def grant(stack: Stack, role: str, number: str = MAI) -> None:
    async with registry_of(stack) as registry:
        await roles.grant(
            registry, actor="cli:test", role=role, target=roles.Target(identification_number=number)
        )


async def sign_in_to_console(stack: Stack, browser: Browser, number: str = MAI) -> httpx.Response:
    """/console/login → the broker's /authorize, which answers with its login page → VNeID → back → /console."""
    response = await browser.http.get(f"{stack.broker_url}/console/login")
    assert response.status_code == 303 and "/authorize?" in response.headers["location"]
    login_page = await browser.follow(response)  # /authorize answers with the login page
    assert "Bảng điều khiển cán bộ" in login_page.text  # the console's name on the broker's login page
    vneid_page = await browser.open_vneid(login_page)
    at_broker = await browser.sign_in_at_vneid(vneid_page, number, DEMO_PASSWORD)
    callback = await browser.follow(at_broker)  # the broker's VNeID callback: on to /console/callback
    assert "/console/callback?code=" in callback.headers["location"]
    at_console = await browser.follow(callback)
    assert at_console.status_code == 303, at_console.text[:500]
    assert at_console.headers["location"] == "/console"
    return await browser.http.get(f"{stack.broker_url}/console")


def csrf_of(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, page.text[:1500]
    return found.group(1)


async def audit_entries(stack: Stack, action: str) -> list[AuditEntry]:
    async with stack.database() as database, database.read() as session:
        statement = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        return list((await session.execute(statement)).scalars())


async def officer_sub(stack: Stack) -> str:
    async with stack.database() as database, database.read() as session:
        statement = select(Account.sub).where(Account.identification_number == MAI)
        return str((await session.execute(statement)).scalar_one())


async def test_an_officer_resolves_a_case_3_review_from_the_console(
    stack: Stack, rp: RelyingParty, browser: Browser
) -> None:
    # A doubtful Case 3 group: the CMND account's birth date disagrees with VNeID.
    await stack.import_legacy(
        csv_text(
            row("b-1", BINH_CMND, full_name="Trần Thị Bình", birth_date="1991-07-25", cmnd=BINH_CMND),
            row(
                "b-2",
                BINH,
                source_system="motcua-huyen",
                full_name="Trần Thị Bình",
                birth_date="1990-07-25",
                cccd=BINH,
            ),
        )
    )
    citizen = Browser()
    login = await citizen.authorize(stack.broker_url, citizen.attempt(rp))
    notice = await citizen.follow(
        await citizen.sign_in_at_vneid(await citizen.open_vneid(login), BINH, DEMO_PASSWORD)
    )
    assert "Cán bộ sẽ rà soát" in notice.text
    await citizen.close()

    home = await sign_in_to_console(stack, browser)
    assert home.status_code == 200 and "chưa được giao vai trò" in home.text  # no role yet
    assert (await browser.http.get(f"{stack.broker_url}/console/reviews")).status_code == 403
    await grant(stack, "one_stop_officer")

    queue = await browser.http.get(f"{stack.broker_url}/console/reviews")
    assert queue.status_code == 200
    assert "Trần Thị Bình" in queue.text and "25/07/1991" in queue.text and "25/07/1990" in queue.text
    assert "023***789" in queue.text and BINH_CMND not in queue.text and BINH not in queue.text
    assert "<td>25/07/1991</td><td>25/07/1990</td>" in queue.text  # old system, then VNeID
    async with stack.database() as database, database.read() as session:
        item = (await session.execute(select(ReviewItem))).scalar_one()
        members = (
            (await session.execute(select(Account).where(Account.id.in_(item.account_ids)))).scalars().all()
        )  # type: ignore[attr-defined]
    keep = next(
        a for a in members if a.identification_number == BINH and a.birthdate is not None and a.needs_review
    )
    retire = next(a for a in members if a.id != keep.id)

    # Without the session's CSRF token nothing happens.
    forged = await browser.http.post(
        f"{stack.broker_url}/console/reviews/{item.id}", data={"action": "merge", "keep": keep.sub}
    )
    assert forged.status_code == 403
    async with stack.database() as database, database.read() as session:
        assert (await session.get(ReviewItem, item.id)).status == "open"  # type: ignore[union-attr]

    done = await browser.http.post(
        f"{stack.broker_url}/console/reviews/{item.id}",
        data={"csrf": csrf_of(queue), "action": "merge", "keep": keep.sub},
    )
    assert done.status_code == 200
    assert "Đã hợp nhất" in done.text and retire.sub in done.text and keep.sub in done.text
    english = re.search(r'<a href="([^"]*)"[^>]*hreflang="en"', done.text)
    assert english is not None and english.group(1) == "/console/reviews?lang=en"
    assert "Review queue" in (await browser.http.get(f"{stack.broker_url}{english.group(1)}")).text
    async with stack.database() as database, database.read() as session:
        assert (await session.get(Account, retire.id)).status == "merged"  # type: ignore[union-attr]
        assert (await session.get(ReviewItem, item.id)).status == "resolved"  # type: ignore[union-attr]
    resolved = await audit_entries(stack, "review.resolve")
    assert [e.actor for e in resolved] == [f"officer:{await officer_sub(stack)}"]
    assert resolved[0].details["retired_subs"] == [retire.sub]
    # Resolving twice is refused with a message, not a 500.
    again = await browser.http.post(
        f"{stack.broker_url}/console/reviews/{item.id}",
        data={"csrf": csrf_of(queue), "action": "not_same_person"},
    )
    assert again.status_code == 409


async def test_lookup_create_dashboard_and_clients_follow_the_roles_and_are_audited(
    stack: Stack, rp: RelyingParty, browser: Browser
) -> None:
    await stack.import_legacy(
        csv_text(
            row(
                "b-1",
                BINH_CMND,
                full_name="Trần Thị Bình",
                birth_date="1990-07-25",
                cmnd=BINH_CMND,
                unit_code="17380",
            )
        )
    )
    await sign_in_to_console(stack, browser)
    await grant(stack, "one_stop_officer")
    home = await browser.http.get(f"{stack.broker_url}/console")
    csrf = csrf_of(home)

    found = await browser.http.post(
        f"{stack.broker_url}/console/lookup", data={"csrf": csrf, "query": BINH_CMND}
    )
    assert found.status_code == 200
    assert "Trần T. B." in found.text and "023***789" in found.text and BINH_CMND not in found.text
    assert "chưa liên kết VNeID" in found.text and "Hướng dẫn công dân đăng nhập bằng VNeID" in found.text
    lookups = await audit_entries(stack, "console.lookup")
    assert [(e.actor, e.details["by"], e.details["query"], e.details["found"]) for e in lookups] == [
        (f"officer:{await officer_sub(stack)}", "cmnd", "023***789", 1)
    ]

    organisation = await browser.http.post(
        f"{stack.broker_url}/console/accounts",
        data={
            "csrf": csrf,
            "account_type": "organisation",
            "org_name": "Công ty TNHH Sen Vàng",
            "tax_code": "0101234567",
        },
    )
    assert organisation.status_code == 201 and "Đã tạo tài khoản" in organisation.text
    citizen = await browser.http.post(
        f"{stack.broker_url}/console/accounts",
        data={
            "csrf": csrf,
            "account_type": "citizen",
            "full_name": "Trần Văn Tư",
            "birth_date": "2003-04-05",
            "gender": "male",
        },
    )
    assert citizen.status_code == 403
    assert (
        "officer_citizen_creation_disabled" in citizen.text
        and "không tạo tài khoản cho công dân" in citizen.text
    )
    created = [e for e in await audit_entries(stack, "account.create") if e.actor.startswith("officer:")]
    assert [(e.outcome, e.actor) for e in created] == [
        ("allowed", f"officer:{await officer_sub(stack)}"),
        ("refused", f"officer:{await officer_sub(stack)}"),
    ]

    # The dashboard is for auditors and ops admins; relying parties for ops admins.
    assert (await browser.http.get(f"{stack.broker_url}/console/dashboard")).status_code == 403
    assert (await browser.http.get(f"{stack.broker_url}/console/clients")).status_code == 403
    await grant(stack, "auditor")
    board = await browser.http.get(f"{stack.broker_url}/console/dashboard")
    assert board.status_code == 200 and "<svg" in board.text and 'class="bar"' in board.text
    assert "17380" in board.text
    csv_file = await browser.http.get(f"{stack.broker_url}/console/dashboard/cleanup.csv")
    # The same report as `broker report cleanup --format csv`: Vietnamese headers.
    assert csv_file.status_code == 200 and "Mã đơn vị" in csv_file.text and "17380" in csv_file.text
    xlsx = await browser.http.get(f"{stack.broker_url}/console/dashboard/cleanup.xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    assert len(await audit_entries(stack, "console.report_download")) == 2
    await grant(stack, "ops_admin")
    verifying = await stack.register_client("Cổng có máy chủ tài nguyên", access_token_format="jwt")
    listed = await browser.http.get(f"{stack.broker_url}/console/clients")
    assert listed.status_code == 200 and rp.client_id in listed.text and rp.redirect_uri in listed.text
    # How each authenticates, and which access tokens it gets: its own format, or the broker's default.
    rows = {row.split("<code>", 1)[1].split("</code>", 1)[0]: row for row in listed.text.split("<tr>")[2:]}
    assert "<code>client_secret_basic</code>" in rows[rp.client_id]
    assert '<code>opaque</code> <span class="muted">(mặc định)</span>' in rows[rp.client_id]
    assert "<code>jwt</code></td>" in rows[verifying.client_id]


async def test_the_console_session_ends_with_the_broker_session_and_needs_one(
    stack: Stack, browser: Browser
) -> None:
    stranger = Browser()
    page = await stranger.http.get(f"{stack.broker_url}/console/reviews")
    assert page.status_code == 401 and "/console/login" in page.text
    # A callback with someone else's state is refused.
    forged = await stranger.http.get(
        f"{stack.broker_url}/console/callback", params={"code": "x", "state": "y"}
    )
    assert forged.status_code == 403
    await stranger.close()

    home = await sign_in_to_console(stack, browser)
    await grant(stack, "one_stop_officer")
    assert (await browser.http.get(f"{stack.broker_url}/console/lookup")).status_code == 200
    # Logging out of the broker (RP-initiated logout's confirmation page) ends the console too.
    confirm = await browser.http.get(f"{stack.broker_url}/logout")
    form = form_with(confirm.text, str(confirm.url), "csrf")
    await browser.http.post(form.action, data=form.fields)
    assert (await browser.http.get(f"{stack.broker_url}/console/lookup")).status_code == 401

    await sign_in_to_console(stack, browser)
    out = await browser.http.post(f"{stack.broker_url}/console/logout", data={"csrf": csrf_of(home)})
    assert out.status_code == 303
    logins = await audit_entries(stack, "console.login")
    assert [e.outcome for e in logins] == ["allowed", "allowed"]
    _ = form_posting_to  # the console's forms are read with csrf_of


async def test_two_officers_deciding_one_review_at_once_get_one_decision(
    stack: Stack, rp: RelyingParty, browser: Browser
) -> None:
    await stack.import_legacy(
        csv_text(
            row("b-1", BINH_CMND, full_name="Trần Thị Bình", birth_date="1991-07-25", cmnd=BINH_CMND),
            row(
                "b-2",
                BINH,
                source_system="motcua-huyen",
                full_name="Trần Thị Bình",
                birth_date="1990-07-25",
                cccd=BINH,
            ),
        )
    )
    citizen = Browser()
    login = await citizen.authorize(stack.broker_url, citizen.attempt(rp))
    vneid_page = await citizen.open_vneid(login)
    await citizen.follow(await citizen.sign_in_at_vneid(vneid_page, BINH, DEMO_PASSWORD))
    await citizen.close()
    queue_page = await sign_in_to_console(stack, browser)
    await grant(stack, "one_stop_officer")
    queue_page = await browser.http.get(f"{stack.broker_url}/console/reviews")
    async with stack.database() as database, database.read() as session:
        item = (await session.execute(select(ReviewItem))).scalar_one()
        subs = (
            (await session.execute(select(Account.sub).where(Account.id.in_(item.account_ids))))
            .scalars()
            .all()
        )  # type: ignore[attr-defined]
    url = f"{stack.broker_url}/console/reviews/{item.id}"
    csrf = csrf_of(queue_page)
    decisions = [
        {"csrf": csrf, "action": "merge", "keep": subs[0]},
        {"csrf": csrf, "action": "merge", "keep": subs[1]},
        {"csrf": csrf, "action": "not_same_person"},
        {"csrf": csrf, "action": "accept_vneid"},
    ]

    answers = await asyncio.gather(*(browser.http.post(url, data=form) for form in decisions))

    assert sorted(answer.status_code for answer in answers) == [200, 409, 409, 409]
    async with stack.database() as database, database.read() as session:
        statuses = (
            (await session.execute(select(Account.status).where(Account.id.in_(item.account_ids))))
            .scalars()
            .all()
        )  # type: ignore[attr-defined]
        assert sorted(statuses).count("merged") <= 1
    assert len(await audit_entries(stack, "review.resolve")) == 1
