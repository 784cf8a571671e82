"""The operators' console over HTTP: the operator role, lists with counts, a CSV import with a
dry run first (the command line's report), export, finding a subscriber and changing their
lists with a reason, every change in the audit log, and the sources' health."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from digest.cli import app as cli
from digest.models import IssueStatus, MembershipStatus
from digest.pipeline import freeze_and_send
from digest.web import create_app
from digest.workspace import Workspace
from tests.web.desk_helpers import desk_workspace, log_in, token_of

pytestmark = pytest.mark.slow  # each test builds a draft from the example first

CSV = (
    "email,name,city\n"
    "new.one@example.org,New One,Oslo\n"
    "not-an-address,Nobody,Nowhere\n"
    "new.two@example.org,New Two,Bergen\n"
    "NEW.ONE@example.org,Again,Oslo\n"
)


@pytest.fixture
def ws(example_dir: Path, home: Path) -> Iterator[Workspace]:
    workspace = desk_workspace(example_dir, home)
    yield workspace
    workspace.close()


@pytest.fixture
async def client(ws: Workspace) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(ws))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
        yield c


@pytest.fixture
async def operator(client: httpx.AsyncClient) -> httpx.AsyncClient:
    await log_in(client, "op")
    return client


def _readers(ws: Workspace) -> int:
    list_id = ws.store.list_id("readers")
    assert list_id is not None
    return list_id


async def test_the_console_needs_the_operator_role(client: httpx.AsyncClient) -> None:
    pages = ("/desk/lists", "/desk/subscribers", "/desk/sources", "/desk/subscribers/1")
    for path in pages:
        answer = await client.get(path)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/desk/login")
    await log_in(client, "ed")
    for path in pages:
        answer = await client.get(path)
        assert answer.status_code == 403, path
    desk = await client.get("/desk/")
    assert 'href="/desk/lists"' not in desk.text  # an editor's bar has no console links


async def test_lists_show_their_counts_and_the_digests_sent_to_them(
    operator: httpx.AsyncClient,
) -> None:
    page = await operator.get("/desk/lists")
    assert page.status_code == 200
    assert "Example readers" in page.text and "The Example Brief" in page.text
    row = page.text.split("<tbody><tr>", 1)[1].split("</tr>", 1)[0]
    assert row.startswith("<td>3</td>")  # active
    assert row.endswith("<td>3</td>")  # all


async def test_an_import_is_a_dry_run_first_with_the_command_lines_report(
    operator: httpx.AsyncClient, ws: Workspace, example_dir: Path, home: Path, tmp_path: Path
) -> None:
    page = await operator.get("/desk/lists")
    files = {"file": ("people.csv", CSV.encode(), "text/csv")}
    checked = await operator.post(
        "/desk/lists/readers/import", data={"csrftoken": token_of(page.text)}, files=files
    )
    assert checked.status_code == 200, checked.text
    path = tmp_path / "people.csv"
    path.write_text(CSV)
    command_line = CliRunner().invoke(
        cli,
        ["subscribers", "import", "readers", str(path), "--dry-run",
         "--config", str(example_dir / "example.toml"), "--home", str(home)],
    )  # fmt: skip
    summary = command_line.stdout.splitlines()[0].split(": ", 1)[1]
    assert summary == (
        "2 imported, 0 updated, 0 unchanged, 2 skipped (1 duplicate, 1 invalid); "
        "dry run, nothing written"
    )
    assert f"people.csv → readers: {summary}" in checked.text
    assert "<td>3</td><td>invalid address" in checked.text  # the skipped rows, by line
    assert ws.store.count_members(_readers(ws)) == {"active": 3}  # nothing written yet

    confirm = checked.text.split('action="/desk/lists/readers/import/', 1)[1].split('"', 1)[0]
    done = await operator.post(
        f"/desk/lists/readers/import/{confirm}",
        data={"csrftoken": token_of(checked.text), "file": "people.csv"},
    )
    assert done.status_code == 200
    assert "people.csv → readers: 2 imported, 0 updated, 0 unchanged, 2 skipped" in done.text
    assert "dry run" not in done.text.split('role="status">', 1)[1].split("</p>", 1)[0]
    assert ws.store.count_members(_readers(ws)) == {"active": 5}
    [entry] = ws.store.audit_log(list_id=_readers(ws))
    assert (entry.actor, entry.action, entry.detail["file"]) == ("desk:op", "import", "people.csv")
    assert entry.detail["imported"] == 2 and entry.detail["skipped"] == 2
    assert not list((ws.home / "uploads").iterdir())  # the kept file went with the import

    again = await operator.post(
        f"/desk/lists/readers/import/{confirm}", data={"csrftoken": token_of(checked.text)}
    )
    assert again.status_code == 303
    assert ws.store.count_members(_readers(ws)) == {"active": 5}


async def test_an_upload_needs_the_form_token_first(operator: httpx.AsyncClient) -> None:
    files = {"file": ("people.csv", CSV.encode(), "text/csv")}
    answer = await operator.post("/desk/lists/readers/import", files=files)
    assert answer.status_code == 403


async def test_multipart_forms_are_refused_where_no_upload_is_expected(
    operator: httpx.AsyncClient,
) -> None:
    page = await operator.get("/desk/subscribers")
    answer = await operator.post(
        "/desk/subscribers",
        data={"csrftoken": token_of(page.text), "address": "x@example.org", "list": "readers"},
        files={"file": ("a.txt", b"a", "text/plain")},
    )
    assert answer.status_code == 415


async def test_uploads_may_be_larger_than_other_bodies(
    operator: httpx.AsyncClient, ws: Workspace
) -> None:
    limit = ws.config.web.max_body_bytes
    page = await operator.get("/desk/lists")
    rows = "".join(f"bulk{i}@example.org,Bulk {i}\n" for i in range(limit // 20))
    big = ("email,name\n" + rows).encode()
    assert limit < len(big) < ws.config.web.max_upload_bytes
    files = {"file": ("big.csv", big, "text/csv")}
    checked = await operator.post(
        "/desk/lists/readers/import", data={"csrftoken": token_of(page.text)}, files=files
    )
    assert checked.status_code == 200
    assert f"{limit // 20} imported" in checked.text
    too_big = await operator.post(
        "/desk/subscribers", data={"csrftoken": token_of(page.text), "name": "x" * limit}
    )
    assert too_big.status_code == 413


async def test_export_is_the_list_as_csv_and_is_audited(
    operator: httpx.AsyncClient, ws: Workspace
) -> None:
    answer = await operator.get("/desk/lists/readers/export.csv")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert 'filename="readers.csv"' in answer.headers["content-disposition"]
    lines = answer.text.splitlines()
    assert lines[0] == "email,name,status,joined,origin,city"
    assert sorted(line.split(",")[0] for line in lines[1:]) == [
        "ada@example.org",
        "grace@example.net",
        "oneil@example.com",
    ]
    [entry] = ws.store.audit_log(list_id=_readers(ws))
    assert (entry.actor, entry.action, entry.detail["members"]) == ("desk:op", "export", 3)
    assert not list((ws.home / "exports").iterdir())
    refused = await operator.get("/desk/lists/readers/export.csv?status=nobody")
    assert refused.status_code == 400


async def test_the_export_is_safe_to_open_in_a_spreadsheet(
    operator: httpx.AsyncClient, ws: Workspace
) -> None:
    ws.store.upsert_subscriber(_readers(ws), "eve@example.org", name='=HYPERLINK("x")')
    answer = await operator.get("/desk/lists/readers/export.csv")
    assert answer.status_code == 200
    [row] = [line for line in answer.text.splitlines() if line.startswith("eve@")]
    assert row.startswith('eve@example.org,"\'=HYPERLINK(""x"")",active,')


async def test_find_a_subscriber_and_change_their_lists_with_a_reason(
    operator: httpx.AsyncClient, ws: Workspace
) -> None:
    found = await operator.get("/desk/subscribers", params={"q": "GRACE@"})
    assert 'href="/desk/subscribers/' in found.text and "grace@example.net" in found.text
    assert "ada@example.org" not in found.text
    grace = ws.store.subscriber_by_email("grace@example.net")
    assert grace is not None
    url = f"/desk/subscribers/{grace.id}"
    page = await operator.get(url)
    assert "Example readers" in page.text and "import:subscribers.csv" in page.text

    token = token_of(page.text)
    refused = await operator.post(
        f"{url}/unsubscribe", data={"csrftoken": token, "list": "readers", "reason": ""}
    )
    assert refused.status_code == 303
    assert ws.store.membership_status(_readers(ws), grace.id) == MembershipStatus.ACTIVE
    await operator.post(
        f"{url}/unsubscribe",
        data={"csrftoken": token, "list": "readers", "reason": "asked by phone"},
    )
    assert ws.store.membership_status(_readers(ws), grace.id) == MembershipStatus.UNSUBSCRIBED
    not_without_reason = await operator.post(
        f"{url}/resubscribe", data={"csrftoken": token, "list": "readers", "reason": " "}
    )
    assert "say why" in (await operator.get(not_without_reason.headers["location"])).text
    await operator.post(
        f"{url}/resubscribe",
        data={"csrftoken": token, "list": "readers", "reason": "changed her mind"},
    )
    assert ws.store.membership_status(_readers(ws), grace.id) == MembershipStatus.ACTIVE

    page = await operator.get(url)
    audit = page.text.split('id="audit"', 1)[1].split("</section>", 1)[0]
    assert audit.index("changed her mind") < audit.index("asked by phone")  # newest first
    assert audit.count("desk:op") == 2
    assert "resubscribe readers" in audit and "unsubscribe readers" in audit
    events = page.text.split('id="events"', 1)[1]
    assert "unsubscribe: asked by phone" in events


async def test_adding_a_subscriber_records_who_and_why_and_refuses_a_suppressed_one(
    operator: httpx.AsyncClient, ws: Workspace
) -> None:
    page = await operator.get("/desk/subscribers")
    token = token_of(page.text)
    added = await operator.post(
        "/desk/subscribers",
        data={
            "csrftoken": token,
            "address": "Lin@Example.org",
            "name": "Lin <b>",
            "list": "readers",
            "reason": "met at the fair",
        },
    )
    assert added.status_code == 303
    lin = ws.store.subscriber_by_email("lin@example.org")
    assert lin is not None and added.headers["location"] == f"/desk/subscribers/{lin.id}"
    shown = await operator.get(added.headers["location"])
    assert "Lin &lt;b&gt;" in shown.text and "<b>" not in shown.text.split("<h1>", 1)[1][:80]
    assert "met at the fair" in shown.text and ", desk" in shown.text  # consent: how

    ws.store.suppress("spam@example.org", "complaint", "postmark")
    refused = await operator.post(
        "/desk/subscribers",
        data={"csrftoken": token, "address": "spam@example.org", "list": "readers", "reason": "x"},
    )
    flash = await operator.get(refused.headers["location"])
    assert "Not done: spam@example.org is suppressed (complaint)" in flash.text
    assert ws.store.subscriber_by_email("spam@example.org") is None


async def test_a_subscribers_page_shows_their_last_deliveries(
    operator: httpx.AsyncClient, ws: Workspace
) -> None:
    draft = ws.store.issues_of("example", statuses=(IssueStatus.DRAFT,), limit=1)[0]
    report = await freeze_and_send(ws, draft.id, max_wait=5)
    assert report.dispatch is not None and report.dispatch.counts.get("sent") == 3
    ada = ws.store.subscriber_by_email("ada@example.org")
    assert ada is not None
    page = await operator.get(f"/desk/subscribers/{ada.id}")
    deliveries = page.text.split('id="deliveries"', 1)[1].split("</section>", 1)[0]
    assert f"example #{draft.id}" in deliveries and '<span class="pill">sent</span>' in deliveries


async def test_sources_show_their_health_with_the_items_of_their_last_fetch(
    operator: httpx.AsyncClient, ws: Workspace, example_dir: Path
) -> None:
    page = await operator.get("/desk/sources")
    rows = page.text.split("<tbody>", 1)[1]
    gazette = rows.split("harbour-gazette", 1)[1].split("</tr>", 1)[0]
    health = ws.store.source_health(["harbour-gazette"])["harbour-gazette"]
    assert health["last_items"] and f"<td>{health['last_items']}</td>" in gazette
    assert "in The Example Brief" in gazette and ">ok<" in gazette
