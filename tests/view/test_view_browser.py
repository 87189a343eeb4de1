"""``kubeoracle view`` pages in headless Chromium: click a step and read its diff, see a
mutant's violation highlighted, search by object name, and a history's culprit."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from runner.cli.main import main
from tests.lincheck.corpus import porcupine_corpus
from tests.view.chromium import chromium, open_page
from tests.view.traces import result, simulate, steps

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    with chromium() as driver:
        yield driver


def view(trace: Path) -> Path:
    page = trace.with_suffix(".html")
    assert main(["view", str(trace), "-o", str(page)]) == 0
    return page


def click_step(driver: WebDriver, index: int) -> None:
    """Scroll the step into sight (rows are drawn only there) and click it."""
    driver.execute_script(
        "const t = document.getElementById('timeline');"
        "t.scrollTop = arguments[0] * 22 - 100; t.dispatchEvent(new Event('scroll'));",
        index - 1,
    )
    driver.execute_script("return new Promise(r => requestAnimationFrame(() => r(0)));")
    driver.find_element(By.CSS_SELECTOR, f'.row[data-n="{index}"]').click()


def test_clicking_a_step_shows_its_action_and_state_diff(
    browser: WebDriver, tmp_path: Path
) -> None:
    trace = simulate("raft", tmp_path, "--seed", "2", "--steps", "1500", "--nodes", "3")
    page = view(trace)
    open_page(browser, page)
    recorded = steps(trace)
    # A step deep in the trace (not drawn until scrolled to) that changed a small value.
    step = next(
        s
        for s in recorded[1000:]
        if s["action"]["action"] == "tick" and s["delta"] and "value" in s["delta"][0]
    )
    click_step(browser, step["index"])
    detail = browser.find_element(By.ID, "detail")
    assert detail.find_element(By.TAG_NAME, "h2").text.startswith(f"step {step['index']}")
    assert f"node {step['action']['node']}" in detail.find_element(By.TAG_NAME, "h2").text
    assert '"action": "tick"' in detail.find_element(By.CSS_SELECTOR, "pre.action").text
    cells = {
        row.find_element(By.CSS_SELECTOR, "td.path").text: row.find_element(
            By.CSS_SELECTOR, "td.new"
        ).text
        for row in detail.find_elements(By.CSS_SELECTOR, "table.diff tbody tr")
    }
    change = step["delta"][0]
    assert cells[change["path"]] == json.dumps(change["value"], separators=(",", ":"))
    selected = browser.find_element(By.CSS_SELECTOR, ".row.sel")
    assert selected.get_attribute("data-n") == str(step["index"])


def test_a_mutant_trace_opens_on_its_highlighted_violation(
    browser: WebDriver, tmp_path: Path
) -> None:
    trace = simulate("raft", tmp_path, "--seed", "1", "--mutant", "vote_twice")
    broken = result(trace)
    assert broken["status"] == "violation"
    open_page(browser, view(trace))
    banner = browser.find_element(By.ID, "banner").text
    assert broken["property"] in banner
    assert broken["message"] in banner
    row = browser.find_element(By.CSS_SELECTOR, ".row.violation")
    assert row.get_attribute("data-n") == str(broken["index"])
    assert "sel" in (row.get_attribute("class") or "").split()
    assert broken["message"] in browser.find_element(By.CSS_SELECTOR, ".violation-box").text
    bad = sorted(e.text for e in browser.find_elements(By.CSS_SELECTOR, ".lanename.bad"))
    assert bad == [f"node {node}" for node in broken["nodes"]]


def test_search_by_object_name_lists_every_step_that_touches_it(
    browser: WebDriver, tmp_path: Path
) -> None:
    trace = simulate("apiserver", tmp_path, "--seed", "1", "--steps", "150")
    open_page(browser, view(trace))
    recorded = steps(trace)
    named = [s["index"] for s in recorded if "object-1" in json.dumps(s["action"])]
    assert named, "no request named object-1"
    search = browser.find_element(By.ID, "search")
    search.send_keys("object-1")
    links = browser.find_elements(By.CSS_SELECTOR, "#hits a.hit-link")
    found = {int(link.text.split(":")[0]) for link in links}
    assert set(named) <= found
    count = browser.find_element(By.ID, "count").text
    assert count == f"{len(found)} steps match"
    links[0].click()
    heading = browser.find_element(By.CSS_SELECTOR, "#detail h2").text
    assert heading.startswith(f"step {min(found)}")
    search.clear()
    search.send_keys("no-such-object-anywhere")
    assert browser.find_element(By.ID, "count").text == "0 steps match"
    assert not browser.find_elements(By.CSS_SELECTOR, ".row.hit")


def test_a_history_page_shows_the_culprit_on_its_clients_lane(
    browser: WebDriver, tmp_path: Path
) -> None:
    history = porcupine_corpus() / "jepsen" / "etcd_000.log"
    page = tmp_path / "h.html"
    code = main(["check", "history", str(history), "--format", "jepsen", "--html", str(page)])
    assert code == 1
    open_page(browser, page)
    assert "not linearizable" in browser.find_element(By.ID, "banner").text
    # etcd_000.log's culprit: client 11's read() that returned 2 during [85, 86].
    assert [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".lanename.bad")] == [
        "client 11"
    ]
    heading = browser.find_element(By.CSS_SELECTOR, "#detail h2").text
    assert heading == "time 85 client 11"
    assert browser.find_elements(By.CSS_SELECTOR, ".span.culprit")
    assert '"result": "2"' in browser.find_element(By.CSS_SELECTOR, "pre.action").text
