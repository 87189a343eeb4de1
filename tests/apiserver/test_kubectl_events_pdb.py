"""kubectl v1.32 against ``serve apiserver``: ``kubectl get events`` with kube's event columns
(no leading NAME; SUBOBJECT, SOURCE, FIRST SEEN, COUNT and NAME with ``-o wide``), Endpoints and
EndpointSlices as kube's printers show them, and ``kubectl create pdb``, which sends its
PodDisruptionBudget as protobuf."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

from tests.apiserver.kubectl import Served, kubectl, require_kubectl, serve

pytestmark = [pytest.mark.kubectl]


@pytest.fixture(autouse=True)
def _kubectl_installed() -> None:
    require_kubectl()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve(tmp_path_factory.mktemp("apiserver")) as running:
        yield running


def _ok(served: Served, *args: str, stdin: str | None = None) -> str:
    result = kubectl(served, *args, stdin=stdin)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _table(text: str) -> list[list[str]]:
    """kubectl's columns are separated by at least two spaces (and a cell has none)."""
    return [re.split(r"\s{2,}", line.strip()) for line in text.strip().splitlines()]


EVENTS = """\
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Event
  metadata: {name: web.1, namespace: default}
  involvedObject: {kind: Pod, name: web, namespace: default, fieldPath: "spec.containers{nginx}"}
  reason: Killing
  message: "Stopping container nginx  "
  type: Normal
  source: {component: kubelet, host: node-1}
  firstTimestamp: "2020-01-01T00:00:00Z"
  lastTimestamp: "2020-01-01T00:00:00Z"
  count: 4
- apiVersion: v1
  kind: Event
  metadata: {name: web.2, namespace: default}
  involvedObject: {kind: Pod, name: web, namespace: default}
  reason: Scheduled
  message: Successfully assigned default/web to node-1
  type: Normal
  source: {component: default-scheduler}
  firstTimestamp: "2020-01-01T00:00:00Z"
- apiVersion: v1
  kind: Event
  metadata: {name: web.3, namespace: default}
  involvedObject: {kind: Node}
  reason: Rebooted
  message: Node rebooted
  type: Warning
  reportingComponent: kubelet
  reportingInstance: node-2
  eventTime: "2020-01-01T00:00:00.000000Z"
"""


def test_get_events_has_kubes_columns(served: Served) -> None:
    _ok(served, "create", "-f", "-", stdin=EVENTS)
    rows = _table(_ok(served, "get", "events"))
    assert rows[0] == ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    body = {tuple(row[1:]) for row in rows[1:]}
    # the message is trimmed; an object without a name is its kind alone
    assert body == {
        ("Normal", "Killing", "pod/web", "Stopping container nginx"),
        ("Normal", "Scheduled", "pod/web", "Successfully assigned default/web to node-1"),
        ("Warning", "Rebooted", "node", "Node rebooted"),
    }
    # every one of them is years old (2020), printed as duration.HumanDuration does
    assert all(re.fullmatch(r"\d+y\d*d?", row[0]) for row in rows[1:]), rows


def test_get_events_wide_adds_subobject_source_first_seen_count_and_name(served: Served) -> None:
    rows = _table(_ok(served, "get", "events", "-o", "wide", "--sort-by", ".metadata.name"))
    assert rows[0] == ["LAST SEEN", "TYPE", "REASON", "OBJECT", "SUBOBJECT", "SOURCE",
                       "MESSAGE", "FIRST SEEN", "COUNT", "NAME"]  # fmt: skip
    killing, scheduled, rebooted = rows[1:4]
    assert killing[3:7] == ["pod/web", "spec.containers{nginx}", "kubelet, node-1",
                            "Stopping container nginx"]  # fmt: skip
    assert killing[-2:] == ["4", "web.1"]
    # no fieldPath: an empty cell kubectl does not print, so the row is one cell short
    assert scheduled[3:6] == [
        "pod/web",
        "default-scheduler",
        "Successfully assigned default/web to node-1",
    ]
    assert scheduled[-2:] == ["1", "web.2"]
    # the new API's fields: source from reportingComponent/Instance, times from eventTime
    assert rebooted[3:6] == ["node", "kubelet, node-2", "Node rebooted"]
    assert rebooted[0] == rebooted[-3]
    assert rebooted[-2:] == ["1", "web.3"]


def test_create_pdb_sends_protobuf_and_keeps_int_or_string(served: Served) -> None:
    created = _ok(served, "create", "pdb", "web", "--selector=app=web", "--min-available=3")
    assert created == "poddisruptionbudget.policy/web created\n"
    created = _ok(served, "create", "pdb", "half", "--selector=app=web", "--max-unavailable=50%")
    assert created == "poddisruptionbudget.policy/half created\n"
    web = json.loads(_ok(served, "get", "pdb", "web", "-o", "json"))["spec"]
    assert web == {"minAvailable": 3, "selector": {"matchLabels": {"app": "web"}}}
    half = json.loads(_ok(served, "get", "pdb", "half", "-o", "json"))["spec"]
    assert half == {"maxUnavailable": "50%", "selector": {"matchLabels": {"app": "web"}}}
    rows = _table(_ok(served, "get", "pdb", "--sort-by", ".metadata.name"))
    assert [row[:3] for row in rows[1:]] == [["half", "N/A", "50%"], ["web", "3", "N/A"]]


ENDPOINTS = """\
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Endpoints
  metadata: {name: four}
  subsets:
  - addresses: [{ip: 10.1.0.1}, {ip: 10.1.0.2}, {ip: 10.1.0.3}, {ip: 10.1.0.4}]
    ports: [{port: 80}]
- apiVersion: v1
  kind: Endpoints
  metadata: {name: empty}
- apiVersion: v1
  kind: Endpoints
  metadata: {name: unready}
  subsets:
  - notReadyAddresses: [{ip: 10.1.0.9}]
    ports: [{port: 80}]
- apiVersion: discovery.k8s.io/v1
  kind: EndpointSlice
  metadata: {name: web-abcde}
  addressType: IPv4
  ports: [{port: 80, name: http}, {name: metrics}, {}]
  endpoints: [{addresses: [10.1.0.1]}, {addresses: [10.1.0.2]}]
- apiVersion: discovery.k8s.io/v1
  kind: EndpointSlice
  metadata: {name: bare}
  addressType: IPv6
  endpoints: []
"""


def test_endpoints_and_slices_print_as_kube_does(served: Served) -> None:
    _ok(served, "create", "-f", "-", stdin=ENDPOINTS)
    rows = _table(_ok(served, "get", "endpoints", "four", "empty", "unready"))
    assert rows[0] == ["NAME", "ENDPOINTS", "AGE"]
    # at most three shown, then how many more; no subsets: <none>; only unready: nothing
    assert rows[1][:2] == ["four", "10.1.0.1:80,10.1.0.2:80,10.1.0.3:80 + 1 more..."]
    assert rows[2][:2] == ["empty", "<none>"]
    assert len(rows[3]) == 2  # the empty ENDPOINTS cell is not printed
    rows = _table(_ok(served, "get", "endpointslices", "web-abcde", "bare"))
    assert rows[0] == ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"]
    assert rows[1][:4] == ["web-abcde", "IPv4", "80,metrics,*", "10.1.0.1,10.1.0.2"]
    assert rows[2][:4] == ["bare", "IPv6", "<unset>", "<unset>"]


def _event(name: str, last: str) -> str:
    return f"""\
- apiVersion: v1
  kind: Event
  metadata: {{name: {name}, namespace: sorting}}
  involvedObject: {{kind: Pod, name: {name}, namespace: sorting}}
  reason: Tested
  message: at {last}
  type: Normal
  firstTimestamp: "{last}"
  lastTimestamp: "{last}"
"""


def test_get_events_sorted_by_last_timestamp(served: Served) -> None:
    # --sort-by asks for the whole objects in the Table's rows (includeObject=Object) and
    # sorts on them: by time, not by name
    _ok(served, "create", "namespace", "sorting")
    items = "".join(
        _event(name, last)
        for name, last in (
            ("e-b", "2021-01-01T00:00:00Z"),
            ("e-a", "2022-01-01T00:00:00Z"),
            ("e-c", "2020-01-01T00:00:00Z"),
        )
    )
    _ok(served, "create", "-f", "-", stdin=f"apiVersion: v1\nkind: List\nitems:\n{items}")
    rows = _table(_ok(served, "get", "events", "-n", "sorting", "--sort-by=.lastTimestamp"))
    assert [row[3] for row in rows[1:]] == ["pod/e-c", "pod/e-b", "pod/e-a"]
    rows = _table(_ok(served, "get", "events", "-n", "sorting"))
    assert [row[3] for row in rows[1:]] == ["pod/e-a", "pod/e-b", "pod/e-c"]
