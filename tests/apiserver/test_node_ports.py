"""NodePort allocation (kube-apiserver's service allocator, v1.35): every port of a NodePort or
LoadBalancer Service gets a free port of 30000-32767; named ports are checked; updates keep the
allocated ports; a ClusterIP Service may not name one."""

from __future__ import annotations

from typing import Any

from runner.apiserver.local import LocalApiServer

SERVICES = "/api/v1/namespaces/default/services"


def _service(name: str, kind: str, *ports: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"type": kind, "selector": {"app": name}, "ports": list(ports), **spec},
    }


def _port(port: int, name: str = "", **extra: Any) -> dict[str, Any]:
    return {"port": port, **({"name": name} if name else {}), **extra}


def _node_ports(body: dict[str, Any]) -> list[int]:
    return [port["nodePort"] for port in body["spec"]["ports"]]


def test_each_port_gets_a_free_port_of_the_range(server: LocalApiServer) -> None:
    first = server.call("POST", SERVICES, _service("a", "NodePort", _port(80, "h"), _port(81, "i")))
    assert first.status == 201
    ports = _node_ports(first.body)
    assert len(set(ports)) == 2
    assert all(30000 <= port <= 32767 for port in ports)
    second = server.call("POST", SERVICES, _service("b", "NodePort", _port(80)))
    assert second.status == 201
    assert not set(_node_ports(second.body)) & set(ports)


def test_a_named_port_must_be_free_and_in_range(server: LocalApiServer) -> None:
    taken = server.call("POST", SERVICES, _service("a", "NodePort", _port(80, nodePort=30080)))
    assert (taken.status, _node_ports(taken.body)) == (201, [30080])
    again = server.call("POST", SERVICES, _service("b", "NodePort", _port(80, nodePort=30080)))
    assert again.status == 422
    assert again.body["message"] == (
        'Service "b" is invalid: spec.ports[0].nodePort: Invalid value: 30080: '
        "provided port is already allocated"
    )
    outside = server.call("POST", SERVICES, _service("c", "NodePort", _port(80, nodePort=8080)))
    assert outside.status == 422
    assert outside.body["message"].endswith(
        "Invalid value: 8080: provided port is not in the valid range. "
        "The range of valid ports is 30000-32767"
    )


def test_one_port_number_may_serve_two_protocols_but_not_twice_one(
    server: LocalApiServer,
) -> None:
    both = _service(
        "dns",
        "NodePort",
        _port(53, "t", protocol="TCP", nodePort=30053),
        _port(53, "u", protocol="UDP", nodePort=30053),
    )
    assert server.call("POST", SERVICES, both).status == 201
    twice = _service(
        "x", "NodePort", _port(80, "a", nodePort=31000), _port(81, "b", nodePort=31000)
    )
    refused = server.call("POST", SERVICES, twice)
    assert refused.status == 422
    assert "spec.ports[1].nodePort: Duplicate value: 31000" in refused.body["message"]


def test_an_update_without_node_ports_keeps_them(server: LocalApiServer) -> None:
    created = server.call("POST", SERVICES, _service("a", "NodePort", _port(80)))
    allocated = _node_ports(created.body)
    replacement = _service("a", "NodePort", _port(80))
    replacement["metadata"]["resourceVersion"] = created.body["metadata"]["resourceVersion"]
    replacement["spec"]["clusterIP"] = created.body["spec"]["clusterIP"]
    updated = server.call("PUT", f"{SERVICES}/a", replacement)
    assert updated.status == 200, updated.body
    assert _node_ports(updated.body) == allocated
    # Its own port is not "already allocated" to itself.
    same = dict(updated.body)
    assert server.call("PUT", f"{SERVICES}/a", same).status == 200


def test_clusterip_services_may_not_name_node_ports(server: LocalApiServer) -> None:
    refused = server.call("POST", SERVICES, _service("a", "ClusterIP", _port(80, nodePort=30001)))
    assert refused.status == 422
    assert refused.body["message"] == (
        'Service "a" is invalid: spec.ports[0].nodePort: Forbidden: '
        "may not be used when `type` is 'ClusterIP'"
    )
    plain = server.call("POST", SERVICES, _service("b", "ClusterIP", _port(80)))
    assert plain.status == 201
    assert "nodePort" not in plain.body["spec"]["ports"][0]


def test_load_balancers_get_node_ports_and_a_health_check_port(server: LocalApiServer) -> None:
    local = server.call(
        "POST", SERVICES, _service("lb", "LoadBalancer", _port(80), externalTrafficPolicy="Local")
    )
    assert local.status == 201
    spec = local.body["spec"]
    assert spec["allocateLoadBalancerNodePorts"] is True  # defaulted for LoadBalancer
    health = spec["healthCheckNodePort"]
    assert 30000 <= health <= 32767
    assert health not in _node_ports(local.body)
    without = server.call(
        "POST",
        SERVICES,
        _service("lb2", "LoadBalancer", _port(80), allocateLoadBalancerNodePorts=False),
    )
    assert without.status == 201
    assert "nodePort" not in without.body["spec"]["ports"][0]
