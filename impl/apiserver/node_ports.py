"""NodePort allocation for Services (kube-apiserver's service REST allocator, v1.35).

A Service of type NodePort, or LoadBalancer unless ``allocateLoadBalancerNodePorts`` is false,
gets a node port for every port that names none, from ``--service-node-port-range``
(30000-32767 by default). kube draws a random free port; any free port is allowed, and this
allocator takes the lowest, as the cluster IP allocator beside it does. A port the client names
must be in the range and free (else ``Invalid value: N: provided port is ...``). An update that
leaves a port's ``nodePort`` out keeps the one the old object held for the same port and
protocol (kube's ``patchAllocatedValues``), so ``kubectl apply`` of a manifest without node
ports does not move them. A LoadBalancer with ``externalTrafficPolicy: Local`` gets a
``healthCheckNodePort`` the same way. A ClusterIP Service that still names node ports is
refused (``may not be used when `type` is 'ClusterIP'``), as kube's validation does. A port is
taken when the allocation record or another cached Service holds it
(``impl/apiserver/service_ranges.py``, whose guarded record write makes the choice atomic).
"""

from __future__ import annotations

from typing import Any

from impl.apiserver.context import Context
from impl.apiserver.service_ranges import NODE_PORT_RANGE, ports_in_use
from models.field_errors import FieldError, FieldErrorType, forbidden, invalid

Json = dict[str, Any]


def _ports(spec: Json) -> list[Json]:
    return [port for port in spec.get("ports") or [] if isinstance(port, dict)]


def _needs_node_ports(spec: Json) -> bool:
    kind = spec.get("type", "ClusterIP")
    return kind == "NodePort" or (
        kind == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is not False
    )


def _check_requested(field: str, port: object, used: set[int]) -> FieldError | None:
    low, high = NODE_PORT_RANGE
    if not isinstance(port, int):
        return None  # the schema refuses a non-integer before this runs
    if not low <= port <= high:
        return invalid(
            field,
            port,
            f"provided port is not in the valid range. The range of valid ports is {low}-{high}",
        )
    if port in used:
        return invalid(field, port, "provided port is already allocated")
    return None


def _next_free(used: set[int]) -> int | None:
    low, high = NODE_PORT_RANGE
    return next((port for port in range(low, high + 1) if port not in used), None)


def allocate_node_ports(
    ctx: Context, obj: Json, own_key: str | None, old: Json | None
) -> list[FieldError] | str:
    """Fill the node ports ``obj`` needs (in place). The field errors of ports the client named
    wrongly, or the message of a full range (kube's 500 ``failed to allocate a nodePort``)."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return []
    ports = _ports(spec)
    if spec.get("type", "ClusterIP") == "ClusterIP":
        return [
            forbidden(f"spec.ports[{index}].nodePort", "may not be used when `type` is 'ClusterIP'")
            for index, port in enumerate(ports)
            if port.get("nodePort")
        ]
    if not _needs_node_ports(spec):
        return []
    old_ports = _ports((old or {}).get("spec") or {})
    for port in ports:
        if not port.get("nodePort"):
            kept = next(
                (
                    before.get("nodePort")
                    for before in old_ports
                    if before.get("port") == port.get("port")
                    and before.get("protocol", "TCP") == port.get("protocol", "TCP")
                    and before.get("nodePort")
                ),
                None,
            )
            if kept is not None:
                port["nodePort"] = kept
    used = ports_in_use(ctx.cache, own_key, old)
    errors: list[FieldError] = []
    # One node port may serve the same port number over two protocols of this Service.
    own: dict[int, set[str]] = {}
    for index, port in enumerate(ports):
        requested, protocol = port.get("nodePort"), str(port.get("protocol", "TCP"))
        if not requested or not isinstance(requested, int):
            continue
        field = f"spec.ports[{index}].nodePort"
        if protocol in own.get(requested, set()):
            errors.append(
                FieldError(
                    type=FieldErrorType.DUPLICATE,
                    field=field,
                    bad_value=requested,
                    shows_value=True,
                )
            )
            continue
        error = _check_requested(field, requested, used)
        if error is not None:
            errors.append(error)
        own.setdefault(requested, set()).add(protocol)
    if errors:
        return errors
    used |= set(own)
    for port in ports:
        if not port.get("nodePort"):
            free = _next_free(used)
            if free is None:
                return "failed to allocate a nodePort: range is full"
            port["nodePort"] = free
            used.add(free)
    if spec.get("type") == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local":
        old_check = ((old or {}).get("spec") or {}).get("healthCheckNodePort")
        if not spec.get("healthCheckNodePort") and isinstance(old_check, int):
            spec["healthCheckNodePort"] = old_check
        requested = spec.get("healthCheckNodePort")
        if requested:
            error = _check_requested("spec.healthCheckNodePort", requested, used)
            return [error] if error is not None else []
        free = _next_free(used)
        if free is None:
            return "failed to allocate a nodePort: range is full"
        spec["healthCheckNodePort"] = free
    return []
