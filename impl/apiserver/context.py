"""What one request's handling may read: the request, its coordinates, the served resource,
the schemas, the watch cache and the drawn entropy; and how a decision answers."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from impl.apiserver.cache import WatchCache
from impl.apiserver.catalog import Catalog, CustomResource, custom_for
from impl.apiserver.rbac import RbacIndex
from impl.apiserver.routing import RequestInfo
from models.apiserver.auth import AuthConfig
from models.apiserver.messages import ApiRequest, ApiResponse, Entropy, Header
from models.apiserver.resources import BUILTIN_RESOURCES, MODELS, Resource
from models.apiserver.schemas import Schema, SchemaSet, builtin_schemas
from models.k8s.codec import encode_json
from models.k8s.meta_ops import Status
from models.kubernetes_version import KUBERNETES_VERSION

JSON = "application/json"


class Config(msgspec.Struct, frozen=True, kw_only=True):
    """The server's fixed settings."""

    schemas: SchemaSet
    service_cluster_ip_range: str = "10.0.0.0/24"
    watch_cache_capacity: int = 1000
    max_update_attempts: int = 16
    bookmark_interval_seconds: int = 60
    git_version: str = f"{KUBERNETES_VERSION}.0"
    admission_plugins: tuple[str, ...] = ()
    """Pod-changing admission plugins enabled (``--enable-admission-plugins``)."""
    auth: AuthConfig = msgspec.field(default_factory=AuthConfig)
    """How the secure port authenticates and authorizes (the insecure port does neither)."""


def builtin_config(
    service_cluster_ip_range: str = "10.0.0.0/24", watch_cache_capacity: int = 1000
) -> Config:
    """The settings of a server of the built-in kinds (their schemas generated from models/k8s)."""
    group_versions = {resource.kind: resource.group_version for resource in BUILTIN_RESOURCES}
    return Config(
        schemas=builtin_schemas(MODELS, group_versions),
        service_cluster_ip_range=service_cluster_ip_range,
        watch_cache_capacity=watch_cache_capacity,
    )


class Context(msgspec.Struct, frozen=True, kw_only=True):
    config: Config
    info: RequestInfo
    resource: Resource
    request: ApiRequest
    entropy: Entropy
    cache: WatchCache
    catalog: Catalog
    rbac: RbacIndex = msgspec.field(default_factory=RbacIndex)
    policy_namespaces: frozenset[str] = frozenset()
    attempt: int = 0
    scale_write: bool = False
    """A ``/scale`` write carried out on the main resource: its managedFields entry still
    names the ``scale`` subresource."""

    @property
    def field_subresource(self) -> str:
        """The subresource a managedFields entry of this request names."""
        return "scale" if self.scale_write else self.info.subresource

    @property
    def custom(self) -> CustomResource | None:
        return custom_for(self.catalog, self.resource) if self.resource.custom else None

    @property
    def schemas(self) -> SchemaSet:
        custom = self.custom
        return custom.schemas if custom is not None else self.config.schemas

    def root_schema(self) -> Schema | None:
        return self.schemas.root(self.resource.kind)


class KeyWrite(msgspec.Struct, frozen=True, kw_only=True):
    """Put ``value`` (or delete when None) if the key's mod_revision is ``expected`` (0:
    absent)."""

    key: str
    expected: int
    value: bytes | None


class Reply(msgspec.Struct, frozen=True, kw_only=True, tag="reply"):
    response: ApiResponse


class Write(msgspec.Struct, frozen=True, kw_only=True, tag="write"):
    """Writes to commit together, then the answer: the first write's object with the commit
    revision (``object``), or ``body`` as is."""

    writes: tuple[KeyWrite, ...]
    code: int
    answer: Literal["object", "body", "scale"] = "object"
    body: bytes = b""
    warnings: tuple[str, ...] = ()
    then_delete: bool = False
    """Once committed, delete the key (guarded by the commit's revision), then answer (the
    committed object, or ``body``): a pod deleted with grace 0 is first marked, then removed."""


Decision = Reply | Write


def status_response(status: Status) -> ApiResponse:
    return ApiResponse(status=status.code or 200, body=encode_json(status))


def warning_header(text: str) -> str:
    """``net.NewWarningHeader(299, "-", text)``: a quoted string with ``"`` and ``\\`` escaped."""
    quoted = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'299 - "{quoted}"'


def json_response(code: int, body: bytes, warnings: tuple[str, ...] = ()) -> ApiResponse:
    headers = tuple(Header(name="Warning", value=warning_header(text)) for text in warnings)
    return ApiResponse(status=code, content_type=JSON, body=body, headers=headers)


def reply(status: Status) -> Reply:
    return Reply(response=status_response(status))


def object_json(value: Any) -> bytes:
    return msgspec.json.encode(value, order="sorted")
