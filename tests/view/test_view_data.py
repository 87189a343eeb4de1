"""``kubeoracle view`` without a browser: what the page's data says about real traces of
several worlds, the generic reading of actions, the diff, and bad input (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from runner.cli.main import main
from runner.cli.worlds import WORLDS
from runner.sim.trace import read_trace
from runner.view.model import ABSENT, json_diff
from runner.view.page import data_json, render_page
from runner.view.trace_view import actor_of, label_of, read_trace_view
from tests.view.traces import simulate, steps


def test_actor_fields_name_lanes_and_nesting_prefixes_the_outer_tag() -> None:
    assert actor_of({"action": "tick", "node": 3}) == "node 3"
    assert actor_of({"action": "call", "client": 2, "member": 1}) == "client 2"
    assert actor_of({"action": "resume", "member": 1}) == "node 1"
    assert actor_of({"type": "inform", "component": "scheduler", "resource": "pods"}) == (
        "scheduler"
    )
    assert actor_of({"type": "etcd", "action": {"action": "tick", "node": 2}}) == "etcd node 2"
    assert actor_of({"action": "heal"}) is None
    assert actor_of({"type": "etcd", "action": {"action": "heal"}}) is None
    assert label_of({"type": "etcd", "action": {"action": "deliver", "message": 7}}) == (
        "etcd deliver message=7"
    )


def test_json_diff_goes_down_to_the_leaves_that_changed() -> None:
    out: list[tuple[str, str, str]] = []
    before = {"a": 1, "b": {"c": [1, 2, 3], "d": "x"}, "gone": True}
    after = {"a": 1, "b": {"c": [1, 5, 3], "d": "y"}, "new": None}
    json_diff("root", before, after, out)
    assert out == [
        ("root.b.c[1]", "2", "5"),
        ("root.b.d", '"x"', '"y"'),
        ("root.gone", "true", ABSENT),
        ("root.new", ABSENT, "null"),
    ]


def test_raft_trace_lanes_are_its_nodes_and_deliveries_are_arrows(tmp_path: Path) -> None:
    trace = simulate("raft", tmp_path, "--seed", "2", "--steps", "400", "--nodes", "3")
    data = read_trace_view(read_trace(trace, WORLDS))
    recorded = steps(trace)
    assert [row.n for row in data.rows] == [step["index"] for step in recorded]
    nodes = {f"node {step['action']['node']}" for step in recorded if "node" in step["action"]}
    assert set(data.lanes) - {"environment"} >= nodes
    deliveries = [i for i, step in enumerate(recorded) if step["action"]["action"] == "deliver"]
    assert deliveries, "the run delivered no message"
    assert sorted(arrow.end for arrow in data.arrows if not arrow.lost) == deliveries
    for arrow in data.arrows:
        assert arrow.start < arrow.end
        # A message goes from the node that sent it to another node.
        assert data.lanes[arrow.target].startswith("node ")
    # A tick's row is in its node's lane and its diff holds what the trace recorded.
    for position, step in enumerate(recorded):
        if step["action"]["action"] == "tick" and step["delta"]:
            row = data.rows[position]
            assert data.lanes[row.lane] == f"node {step['action']['node']}"
            change = step["delta"][0]
            shown = {path: after for path, _, after in row.diff}
            assert shown[change["path"]] == json.dumps(change["value"], separators=(",", ":"))
            break
    else:
        pytest.fail("no tick changed anything")


def test_an_etcd_trace_has_member_lanes_and_client_calls(tmp_path: Path) -> None:
    trace = simulate("etcd", tmp_path, "--seed", "1", "--steps", "300")
    data = read_trace_view(read_trace(trace, WORLDS))
    calls = [step for step in steps(trace) if step["action"]["action"] == "call"]
    assert calls
    for step in calls:
        position, row = next((i, row) for i, row in enumerate(data.rows) if row.n == step["index"])
        assert data.lanes[row.lane] == f"client {step['action']['client']}"
        (request,) = [a for a in data.arrows if a.start == a.end == position]
        assert data.lanes[request.source] == f"client {step['action']['client']}"
        assert data.lanes[request.target] == f"node {step['action']['member']}"
    assert [a for a in data.arrows if a.start < a.end]


def test_a_mutant_trace_marks_the_violation_and_its_nodes(tmp_path: Path) -> None:
    trace = simulate("raft", tmp_path, "--seed", "1", "--mutant", "vote_twice")
    last = json.loads(trace.read_text().splitlines()[-1])
    assert last["status"] == "violation"
    data = read_trace_view(read_trace(trace, WORLDS))
    (mark,) = data.marks
    assert data.rows[mark.row].n == last["index"]
    assert data.rows[mark.row].style == "violation"
    assert last["property"] in mark.property
    assert sorted(data.lanes[lane] for lane in mark.lanes) == [f"node {n}" for n in last["nodes"]]


def test_the_page_is_self_contained_and_its_data_cannot_close_the_script() -> None:
    from runner.view.model import Row, ViewData

    evil = "</script><script>alert(1)</script>"
    data = ViewData(
        title=evil,
        kind="trace",
        summary=(evil,),
        lanes=("environment",),
        rows=(Row(n=1, lane=0, label=evil, detail=evil, diff=((evil, evil, evil),)),),
    )
    page = render_page(data)
    assert page.count("</script>") == 2  # the data element's and the script's own
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in page
    assert "<link" not in page
    assert " src=" not in page
    assert msgspec.json.decode(data_json(data).encode())["rows"][0][2] == evil


def test_a_corrupt_trace_is_exit_2_naming_the_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = simulate("raft", tmp_path, "--seed", "1", "--steps", "50")
    lines = trace.read_text().splitlines()
    lines[3] = lines[3][:20]
    trace.write_text("\n".join(lines) + "\n")
    assert main(["view", str(trace), "-o", str(tmp_path / "t.html")]) == 2
    assert f"{trace}:4:" in capsys.readouterr().err
    assert not (tmp_path / "t.html").exists()


def test_a_bad_history_and_an_unwritable_page_are_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history = tmp_path / "h.jsonl"
    history.write_text('{"kind": "operation", "client_id": "x"}\n')
    assert main(["view", str(history), "-o", str(tmp_path / "h.html")]) == 2
    assert f"{history}:1" in capsys.readouterr().err
    trace = simulate("raft", tmp_path, "--seed", "1", "--steps", "20")
    assert main(["view", str(trace), "-o", str(tmp_path)]) == 2
    assert "directory" in capsys.readouterr().err


@pytest.mark.parametrize("world", sorted(WORLDS))
def test_every_world_renders_with_a_row_per_step_in_the_lane_its_action_names(
    world: str, tmp_path: Path
) -> None:
    trace = simulate(world, tmp_path, "--seed", "1", "--steps", "60")
    data = read_trace_view(read_trace(trace, WORLDS))
    recorded = steps(trace)
    assert [row.n for row in data.rows] == [step["index"] for step in recorded]
    # Re-executed to the end: every diff is the replay's, with the values before and after.
    assert not [line for line in data.summary if "departs" in line]
    hook = getattr(WORLDS[world], "view_lane", None)
    for row, step in zip(data.rows, recorded, strict=True):
        named = actor_of(step["action"])
        if named is not None:
            # A world may rename its lanes (the cluster: replica 0 is manager-0).
            expected = hook(step["action"], named) if callable(hook) else named
            assert data.lanes[row.lane] == expected
        if step["delta"]:
            assert row.diff, f"step {step['index']} changed the state but shows no diff"
    page = tmp_path / f"{world}.html"
    assert main(["view", str(trace), "-o", str(page)]) == 0
    assert page.read_text().startswith("<!DOCTYPE html>")


def test_a_world_kind_may_name_its_lanes_with_a_view_lane_hook(tmp_path: Path) -> None:
    """A world that names one component two ways maps them to one lane with ``view_lane``."""
    import dataclasses
    from typing import Any

    trace = simulate("raft", tmp_path, "--seed", "2", "--steps", "200", "--nodes", "3")
    parsed = read_trace(trace, WORLDS)

    class Renamed:
        """The Raft kind, with a hook that calls the nodes "member-N" and puts proposals in a
        "client" lane."""

        def __getattr__(self, name: str) -> Any:
            return getattr(parsed.kind, name)

        def view_lane(self, action: Any, lane: str) -> str:
            if action.get("action") == "propose":
                return "client"
            return lane.replace("node ", "member-")

    data = read_trace_view(dataclasses.replace(parsed, kind=Renamed()))
    for row, step in zip(data.rows, steps(trace), strict=True):
        action = step["action"]
        if action["action"] == "propose":
            assert data.lanes[row.lane] == "client"
        elif "node" in action:
            assert data.lanes[row.lane] == f"member-{action['node']}"
    # Deliveries name no component: their lane is the message's destination, renamed too.
    assert data.arrows
    assert all(data.lanes[arrow.target].startswith("member-") for arrow in data.arrows)
    assert not [lane for lane in data.lanes if lane.startswith("node ")]


def test_without_replay_the_diff_is_what_the_trace_records(tmp_path: Path) -> None:
    trace = simulate("raft", tmp_path, "--seed", "2", "--steps", "300", "--nodes", "3")
    replayed = read_trace_view(read_trace(trace, WORLDS))
    data = read_trace_view(read_trace(trace, WORLDS), replay=False)
    assert "--no-replay" in " ".join(data.summary)
    # The same messages between the same nodes; a message over 240 bytes (an MsgApp with
    # entries) is only a digest in the trace, so without the replay its type is unknown, and
    # so is its receiver when the delivery changed nothing (a stale message ignored).
    environment = data.lanes.index("environment")
    assert len(data.arrows) == len(replayed.arrows)
    for mine, theirs in zip(data.arrows, replayed.arrows, strict=True):
        assert (mine.start, mine.end) == (theirs.start, theirs.end)
        assert data.lanes[mine.target] in (replayed.lanes[theirs.target], "environment")
        sender = data.lanes[mine.source]
        assert sender in (replayed.lanes[theirs.source], "environment")
    assert sum(a.target != environment for a in data.arrows) > 0.8 * len(data.arrows)
    typed = [(m, t) for m, t in zip(data.arrows, replayed.arrows, strict=True) if " " in m.label]
    assert len(typed) > len(data.arrows) / 2
    assert all(mine.label == theirs.label for mine, theirs in typed)
    # Old values: the last value a delta recorded for the path, else the initial snapshot's.
    records = [json.loads(line) for line in trace.read_text().splitlines()]
    snapshot = next(r for r in records if r["record"] == "snapshot")["state"]
    last: dict[str, object] = {}
    checked = 0
    rows = iter(data.rows)
    for record in records:
        if record["record"] != "step":
            continue
        row = next(rows)
        shown = {path: (before, after) for path, before, after in row.diff}
        for change in record["delta"] or []:
            path = change["path"]
            if "value" not in change or path not in shown:
                continue
            old: object = snapshot
            if path in last:
                old = last[path]
            else:
                for name in path.split("."):
                    old = old.get(name, ABSENT) if isinstance(old, dict) else ABSENT
            before = old if old == ABSENT else json.dumps(old, separators=(",", ":"))
            after = json.dumps(change["value"], separators=(",", ":"))
            if old == "(long)" or (
                isinstance(old, dict | list) and isinstance(change["value"], dict | list)
            ):
                continue  # a value the trace has by digest only, or one shown leaf by leaf
            assert shown[path] == (before, after), path
            checked += 1
        for change in record["delta"] or []:
            last[change["path"]] = change.get("value", "(long)")
            if not change["digest"]:
                last[change["path"]] = ABSENT
    assert checked > 100
    assert main(["view", str(trace), "--no-replay", "-o", str(tmp_path / "p.html")]) == 0
