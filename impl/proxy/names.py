"""Chain, set and endpoint names exactly as kube-proxy v1.35 computes them.

iptables (``pkg/proxy/iptables/proxier.go``): chain names must fit in 28 characters, so a
service port's chains are a prefix plus ``portProtoHash``: the first 16 characters of the
base32 (standard alphabet, padded) SHA-256 of ``"ns/svc:port" + protocol`` (``"ns/svc"`` for an
unnamed port; protocol lower case). An endpoint chain hashes ``name + protocol + "ip:port"``.

nftables (``pkg/proxy/nftables/proxier.go``): names are readable, ``HASH8-ns/svc/proto/port``
(and ``...__ip/port`` for an endpoint), prefixed with ``service-``, ``local-``, ``external-``,
``firewall-``, ``endpoint-`` or ``affinity-``; HASH8 is the first 8 characters of the same
base32 SHA-256 of the readable part, and names longer than 240 characters are cut to 237 and
end in ``...``.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Final

from models.proxy.view import EndpointView, ServicePortView

NFT_NAME_LENGTH_MAX: Final = 256
NFT_PREFIX_LENGTH_MAX: Final = 16
NFT_BASE_LENGTH_MAX: Final = NFT_NAME_LENGTH_MAX - NFT_PREFIX_LENGTH_MAX


def _base32_sha256(text: str) -> str:
    return base64.b32encode(hashlib.sha256(text.encode()).digest()).decode()


def port_proto_hash(service_port_name: str, protocol: str) -> str:
    return _base32_sha256(service_port_name + protocol)[:16]


def iptables_chain(prefix: str, port: ServicePortView) -> str:
    """``KUBE-SVC-``, ``KUBE-SVL-``, ``KUBE-EXT-`` or ``KUBE-FW-`` plus the port's hash."""
    return prefix + port_proto_hash(port.name, port.proto)


def iptables_endpoint_chain(port: ServicePortView, endpoint: EndpointView) -> str:
    return "KUBE-SEP-" + _base32_sha256(port.name + port.proto + endpoint.address)[:16]


def _hash_and_truncate(name: str) -> str:
    named = _base32_sha256(name)[:8] + "-" + name
    if len(named) > NFT_BASE_LENGTH_MAX:
        named = named[: NFT_BASE_LENGTH_MAX - 3] + "..."
    return named


def nft_service_base(port: ServicePortView) -> str:
    """``HASH-ns/svc/proto/port``, e.g. ``ULMVA6XW-ns1/svc1/tcp/p80``."""
    return _hash_and_truncate(f"{port.namespace}/{port.service}/{port.proto}/{port.port_name}")


def nft_endpoint_base(port: ServicePortView, endpoint: EndpointView) -> str:
    """``HASH-ns/svc/proto/port__ip/port``, e.g. ``5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80``."""
    ip = endpoint.ip.replace(":", ".")
    name = f"{port.namespace}/{port.service}/{port.proto}/{port.port_name}__{ip}/{endpoint.port}"
    return _hash_and_truncate(name)
