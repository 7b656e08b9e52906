"""The workbench in a real browser (Debian's chromium through Playwright), as a product manager uses it.

Each test takes screenshots into its tmp folder; with RATECARD_SCREENSHOTS=1
the README's screenshots are written to docs/screenshots/ as well.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time

import pytest
import uvicorn
from playwright.sync_api import expect

from interpreter.workbench.app import create_app
from interpreter.workbench.workspace import Workspace
from workbench_helpers import LEDGER, PORTONE_FILE, ROOT, plans_repository, snapshot_of

DOCS = ROOT / "docs" / "screenshots"
expect.set_options(timeout=30_000)  # rating runs one request at a time on a 2-core machine


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def plans(tmp_path):
    return plans_repository(tmp_path)


@pytest.fixture
def server(plans):
    """The workbench on a free port of 127.0.0.1, in a thread, over a committed copy of the plans."""
    port = free_port()
    app = create_app(Workspace.open(plans, usage=str(plans / LEDGER)))
    instance = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not instance.started:
        assert time.monotonic() < deadline, "the workbench did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    instance.should_exit = True
    thread.join(timeout=10)


def shoot(page, tmp_path, name: str) -> None:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path))
    if os.environ.get("RATECARD_SCREENSHOTS"):
        DOCS.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, DOCS / f"{name}.png")


@pytest.fixture
def page(page):
    page.set_viewport_size({"width": 1440, "height": 900})
    page.set_default_timeout(30_000)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    assert errors == []


def test_home_lists_the_plans_with_their_status(page, server, plans, tmp_path):
    page.goto(server + "/")
    rows = page.locator("tr[data-plan]")
    expect(rows).to_have_count(len(list(plans.glob("*.yaml"))))  # every shipped plan
    expect(page.locator(f'tr[data-plan="{PORTONE_FILE}"] td.check')).to_have_text("checks clean")
    expect(page.locator(f'tr[data-plan="{PORTONE_FILE}"] td.scenarios')).to_have_text(re.compile(r"12 ok"))
    expect(page.locator("td.scenarios .pending")).to_have_count(0)
    shoot(page, tmp_path, "home")


def edit(page, old: str, new: str) -> None:
    """Change the plan in the page's editor as typing would (CodeMirror's own change events)."""
    page.evaluate("([old, neu]) => { const cm = window.workbenchEditor; cm.setValue(cm.getValue().replace(old, neu)); }", [old, new])


def test_edit_see_the_error_at_its_line_fix_it_and_see_the_invoices_move(page, server, plans, tmp_path):
    page.goto(f"{server}/plans/{PORTONE_FILE}")
    expect(page.locator("#curves-panel .chart[data-ready] svg")).to_have_count(2)  # both curves drawn
    studio = page.locator('.document-card[data-customer="studio-maru"] .total')
    expect(studio).to_have_text("₩110,000")
    shoot(page, tmp_path, "plan")

    edit(page, "on: net_volume", "on: net_volum")
    widget = page.locator(".problem-widget")
    expect(widget).to_have_text(re.compile(r"unknown name 'net_volum'.*did you mean 'net_volume'\?"))
    line = next(n for n, row in enumerate((plans / PORTONE_FILE).read_text(encoding="utf-8").splitlines(), 1) if "on: net_volume" in row)
    expect(widget).to_have_attribute("data-line", str(line))
    # the widget sits right under that line of the editor
    number_above = page.evaluate(
        """(w) => { const cm = window.workbenchEditor;
        const box = document.querySelector('.problem-widget').getBoundingClientRect();
        return cm.lineAtHeight(box.top - 4, 'window') + 1; }""",
        None,
    )
    assert number_above == line
    expect(page.locator("#save-state")).to_have_text("Unsaved changes")
    expect(page.locator("#problems-panel .badge")).to_have_text("1 error")
    page.locator("#problems-panel .jump").click()  # the editor scrolls to the line
    expect(page.locator(".problem-widget")).to_be_in_viewport()
    shoot(page, tmp_path, "plan-error")

    edit(page, "on: net_volum", "on: net_volume")
    edit(page, "- {below: 100_000_000, flat: 100_000}", "- {below: 100_000_000, flat: 150_000}")
    expect(page.locator(".problem-widget")).to_have_count(0)
    expect(studio).to_have_text("₩165,000")
    expect(page.locator('[data-role="revenue-delta"]')).to_have_text("+₩55,000")
    expect(page.locator("#impact-panel .chart[data-ready] svg")).to_have_count(1)  # who pays more or less
    # the curve moved too: hovering the second bracket shows its exact new amount
    chart = page.locator('.chart-card[data-charge="platform_fee"] .chart[data-ready] svg').first
    expect(chart).to_be_visible()
    spec = page.evaluate(
        """() => JSON.parse(document.querySelector('.chart-card[data-charge="platform_fee"] script.chart-spec').textContent)"""
    )
    values = {p["quantity"]: p["amount"] for p in spec["layer"][0]["data"]["values"]}
    assert values["50000000"] == "150000" and values["49999999"] == "0"
    box = chart.locator(".mark-line path").first.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.07, box["y"] + box["height"] * 0.5)
    expect(page.locator("#vg-tooltip-element")).to_contain_text("₩")
    assert (plans / PORTONE_FILE).read_text(encoding="utf-8").count("flat: 150_000") == 0  # nothing saved yet
    page.locator("#impact-panel").scroll_into_view_if_needed()
    shoot(page, tmp_path, "plan-impact")


def test_save_then_accept_a_changed_snapshot(page, server, plans, tmp_path):
    page.goto(f"{server}/plans/{PORTONE_FILE}")
    expect(page.locator('.scenario[data-scenario="sample_month"]')).to_have_attribute("data-status", "same")
    edit(page, "Net volume has passed", "Your net volume passed")
    expect(page.locator("#save")).to_be_enabled()
    page.locator("#save").click()
    expect(page.locator("#save-state")).to_have_text("Saved")
    assert "Your net volume passed" in (plans / PORTONE_FILE).read_text(encoding="utf-8")
    changed = page.locator('.scenario[data-scenario="sample_month"]')
    expect(changed).to_have_attribute("data-status", "changed")
    expect(changed.locator(".diff pre .add").first).to_contain_text("Your net volume passed")
    changed.scroll_into_view_if_needed()
    shoot(page, tmp_path, "scenarios")
    snapshot = snapshot_of(plans, "portone_one_payment_infra", "sample_month")
    assert "Your net volume passed" not in snapshot.read_text(encoding="utf-8")
    page.once("dialog", lambda dialog: dialog.accept())
    changed.locator("button.accept").click()
    expect(page.locator("#scenarios .banner.good")).to_have_text("Snapshot of 'sample_month' accepted.")
    expect(page.locator('.scenario[data-scenario="sample_month"]')).to_have_attribute("data-status", "same")
    assert "Your net volume passed" in snapshot.read_text(encoding="utf-8")


def test_a_change_on_disk_reaches_the_page(page, server, plans):
    page.goto(f"{server}/plans/{PORTONE_FILE}")
    expect(page.locator('.document-card[data-customer="travelco"] .total')).to_have_text("₩550,000")
    file = plans / PORTONE_FILE
    file.write_text(file.read_text(encoding="utf-8").replace("- {flat: 500_000}", "- {flat: 700_000}"), encoding="utf-8")
    expect(page.locator('.document-card[data-customer="travelco"] .total')).to_have_text("₩770,000")
    expect(page.locator("#save-state")).to_have_text("Saved")


def test_an_invoice_prints_from_the_page(page, server):
    page.goto(f"{server}/plans/{PORTONE_FILE}")
    card = page.locator('.document-card[data-customer="bookstore"]').first
    frame = card.locator("iframe").content_frame
    expect(frame.locator("h1")).to_have_text("Invoice")
    expect(frame.locator('[data-role="total"]')).to_have_text("₩0")
    page.evaluate(
        "() => { window.printed = 0; document.querySelector('.document-card iframe').contentWindow.print = () => { window.printed += 1; }; }"
    )
    card.locator("button.print").click()
    assert page.evaluate("() => window.printed") == 1
