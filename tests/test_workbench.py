"""The workbench server without a browser: what it shows, what it refuses, and when it writes."""

from __future__ import annotations

import html
import re

import pytest
from starlette.testclient import TestClient

from interpreter.review import snapshots
from interpreter.review.scenarios import run
from interpreter.workbench.app import create_app
from interpreter.workbench.workspace import Workspace
from workbench_helpers import LEDGER, PORTONE_FILE, git, plans_repository, snapshot_of


@pytest.fixture
def plans(tmp_path):
    return plans_repository(tmp_path)


@pytest.fixture
def client(plans):
    app = create_app(Workspace.open(plans, usage=str(plans / LEDGER)))
    with TestClient(app, base_url="http://127.0.0.1:8765") as test_client:
        test_client.token = app.state.token
        yield test_client


def post(client, url, data=None, **headers):
    return client.post(url, data=data or {}, headers={"X-Workbench-Token": client.token, **headers})


def test_home_lists_every_plan_with_its_check_status(client, plans):
    page = client.get("/")
    assert page.status_code == 200
    rows = re.findall(r'<tr data-plan="([^"]+)">', page.text)
    assert rows == sorted(p.name for p in plans.glob("*.yaml"))
    assert page.text.count('data-status="clean"') == len(rows)
    summary = client.get(f"/scenario-summary/{PORTONE_FILE}").text
    assert "12 ok" in summary


def test_a_broken_plan_shows_its_errors_on_the_home_page(client, plans):
    file = plans / PORTONE_FILE
    file.write_text(file.read_text(encoding="utf-8").replace("on: net_volume", "on: net_volum"), encoding="utf-8")
    page = client.get("/").text
    row = page[page.index(f'data-plan="{PORTONE_FILE}"') :]
    assert re.search(r'data-status="errors">1 error<', row[: row.index("</tr>")])


def test_plan_page_shows_curves_documents_impact(client):
    page = client.get(f"/plans/{PORTONE_FILE}")
    assert page.status_code == 200
    text = page.text
    assert 'data-charge="platform_fee"' in text and 'class="chart-spec"' in text
    assert re.search(r'data-customer="megamart".*?data-amount="330000">₩330,000<', text, re.S)
    assert "No document changes against the last revision." in text
    assert 'id="scenarios"' in text


def test_preview_rates_the_text_in_the_editor_without_saving_it(client, plans):
    file = plans / PORTONE_FILE
    before = file.read_text(encoding="utf-8")
    edited = before.replace("- {below: 100_000_000, flat: 100_000}", "- {below: 100_000_000, flat: 150_000}")
    part = post(client, f"/preview/{PORTONE_FILE}", {"text": edited, "sample": "ledger"}).text
    assert re.search(r'data-customer="studio-maru".*?data-amount="165000">₩165,000<', part, re.S)
    assert "+₩55,000" in part  # revenue against the committed plan
    assert file.read_text(encoding="utf-8") == before


def test_problems_come_back_with_their_lines(client, plans):
    text = (plans / PORTONE_FILE).read_text(encoding="utf-8").replace("on: net_volume", "on: net_volum")
    part = post(client, f"/preview/{PORTONE_FILE}", {"text": text}).text
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "on: net_volum" in row)
    assert f'data-line="{line}" data-column="9"' in part
    assert "unknown name &#39;net_volum&#39;" in part
    assert 'id="curves-panel"' not in part


def test_everything_shown_is_escaped(plans):
    hostile = "<script>alert(1)</script>"
    ledger = plans / "portone_one_payment_infra" / "hostile.csv"
    ledger.write_text(
        f'event_id,customer,timestamp,kind,amount\ne1,"{hostile}",2024-11-03T10:00:00+09:00,approval,60000000\n', encoding="utf-8"
    )
    app = create_app(Workspace.open(plans, usage=str(ledger)))
    with TestClient(app, base_url="http://127.0.0.1") as other:
        text = (plans / PORTONE_FILE).read_text(encoding="utf-8").replace("name: One Payment Infra\n", f"name: '{hostile}'\n")
        part = other.post(f"/preview/{PORTONE_FILE}", data={"text": text}, headers={"X-Workbench-Token": app.state.token}).text
    assert "<script>alert" not in part
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in part  # the customer in the page
    srcdoc = html.unescape(re.search(r'srcdoc="([^"]*)"', part).group(1))  # the invoice inside its frame
    assert "<script>alert" not in srcdoc and "&lt;script&gt;alert(1)&lt;/script&gt;" in srcdoc


@pytest.mark.parametrize(
    "path",
    [
        "/plans/../pyproject.toml",
        "/plans/..%2F..%2Fetc%2Fpasswd",
        "/file/%2Fetc%2Fpasswd",
        "/plans/portone_one_payment_infra/scenarios/bracket_edges.yaml",
        "/file/nothing.yaml",
    ],
)
def test_nothing_outside_the_plans_is_reachable(client, path):
    assert client.get(path).status_code == 404


def test_writes_need_the_token_and_this_origin(client, plans):
    file = plans / PORTONE_FILE
    version = client.get(f"/file/{PORTONE_FILE}").json()["version"]
    data = {"text": "plan: x\n", "version": version}
    assert client.post(f"/save/{PORTONE_FILE}", data=data).status_code == 403
    assert client.post(f"/save/{PORTONE_FILE}", data=data, headers={"X-Workbench-Token": "guess"}).status_code == 403
    assert post(client, f"/save/{PORTONE_FILE}", data, Origin="http://evil.example").status_code == 403
    assert post(client, f"/accept/{PORTONE_FILE}?scenario=sample_month", Origin="http://evil.example").status_code == 403
    assert "plan: x" not in file.read_text(encoding="utf-8")
    assert client.get("/", headers={"Host": "evil.example"}).status_code == 400  # DNS rebinding
    page = client.get("/")
    assert "script-src 'self'" in page.headers["content-security-policy"]


def test_save_writes_the_plan_unless_it_changed_on_disk(client, plans):
    file = plans / PORTONE_FILE
    loaded = client.get(f"/file/{PORTONE_FILE}").json()
    edited = loaded["text"].replace("flat: 100_000}", "flat: 120_000}")
    saved = post(client, f"/save/{PORTONE_FILE}", {"text": edited, "version": loaded["version"]}, Origin="http://127.0.0.1:8765")
    assert saved.status_code == 200
    assert file.read_text(encoding="utf-8") == edited
    assert saved.json()["version"] == client.get(f"/file/{PORTONE_FILE}").json()["version"] != loaded["version"]
    stale = post(client, f"/save/{PORTONE_FILE}", {"text": "plan: y\n", "version": loaded["version"]})
    assert stale.status_code == 409 and "changed on disk" in stale.json()["error"]
    assert file.read_text(encoding="utf-8") == edited


def test_reading_never_writes(client, plans):
    for url in (
        "/",
        f"/plans/{PORTONE_FILE}",
        f"/scenarios/{PORTONE_FILE}",
        f"/scenario-summary/{PORTONE_FILE}",
        f"/file/{PORTONE_FILE}",
        "/plans/bacobill_saas.yaml",
        "/scenarios/bacobill_saas.yaml",
    ):
        assert client.get(url).status_code == 200
    assert git(plans.parent, "status", "--porcelain", "--untracked-files=all") == ""


def test_accept_writes_what_test_update_writes(client, plans):
    file = plans / PORTONE_FILE
    # a new wording of the notice moves the documents, not the totals written by hand
    file.write_text(file.read_text(encoding="utf-8").replace("Net volume has passed", "Your net volume passed"), encoding="utf-8")
    listing = client.get(f"/scenarios/{PORTONE_FILE}").text
    assert re.search(r'data-scenario="sample_month" data-status="changed"', listing)
    assert '<span class="add">+          &#34;message&#34;: &#34;Your net volume passed' in listing
    accepted = post(client, f"/accept/{PORTONE_FILE}?scenario=sample_month")
    assert accepted.status_code == 200
    assert "Snapshot of &#39;sample_month&#39; accepted." in accepted.text
    assert 'data-scenario="sample_month" data-status="same"' in accepted.text
    assert 'data-scenario="paid_plan_notice" data-status="changed"' in accepted.text  # only the one accepted
    scenario = plans / "portone_one_payment_infra" / "scenarios" / "sample_month.yaml"
    assert snapshot_of(plans, "portone_one_payment_infra", "sample_month").read_text(encoding="utf-8") == snapshots.serialize(
        run(scenario).data
    )


def test_accept_refuses_when_the_hand_written_totals_fail(client, plans):
    file = plans / PORTONE_FILE
    file.write_text(file.read_text(encoding="utf-8").replace("flat: 100_000}", "flat: 100_001}"), encoding="utf-8")
    snapshot = snapshot_of(plans, "portone_one_payment_infra", "bracket_edges")
    before = snapshot.read_text(encoding="utf-8")
    refused = post(client, f"/accept/{PORTONE_FILE}?scenario=bracket_edges")
    assert "do not hold" in refused.text
    assert snapshot.read_text(encoding="utf-8") == before
    assert post(client, f"/accept/{PORTONE_FILE}?scenario=nope").status_code == 404


def test_no_committed_version_is_said_plainly(tmp_path):
    folder = tmp_path / "plans"
    folder.mkdir()
    (folder / "p.yaml").write_text("plan: p\ncurrency: USD\ncharges:\n  fee: {model: flat, amount: 5}\n", encoding="utf-8")
    app = create_app(Workspace.open(folder))
    with TestClient(app, base_url="http://127.0.0.1") as client:
        page = client.get("/plans/p.yaml").text
    assert "no committed version to compare with" in page
    assert "no usage to rate" in page
