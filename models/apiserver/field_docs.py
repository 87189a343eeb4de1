"""What the served schemas say about each field (``kubectl explain``; OpenAPI ``description``).

Written for kubeoracle from the semantics of the Kubernetes v1.35 API; the wording is ours.
``FIELDS`` describes a field of one schema component; ``COMMON`` a field name wherever it
appears (a component's own entry wins). Fields found in neither keep no description.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

COMMON: Final[Mapping[str, str]] = {
    "apiVersion": "The versioned schema this object is written in (group/version, or v1 for the "
    "core group). The server converts recognised versions.",
    "kind": "The object's type, in CamelCase; set by clients, fixed by the endpoint.",
    "metadata": "The object's metadata: name, namespace, labels, annotations, and the fields "
    "the server maintains (uid, resourceVersion, timestamps).",
    "spec": "The desired state, written by users and controllers.",
    "status": "The observed state, written by the system through the status subresource; a "
    "write to the main resource leaves it unchanged.",
    "conditions": "The latest observations of the object's state, one entry per condition type.",
    "observedGeneration": "The metadata.generation the controller last acted upon.",
    "replicas": "How many pod copies are wanted (spec) or exist (status).",
    "selector": "A label query over the pods this object manages; it must match the template's "
    "labels.",
    "template": "The pod template the pods are made from.",
    "minReadySeconds": "How long a new pod must be ready, with no container crashing, before it "
    "counts as available (default 0).",
    "revisionHistoryLimit": "How many old revisions to keep for rollback.",
    "type": "The kind of this entry; its allowed values depend on the field.",
    "reason": "A one-word, CamelCase reason for the last transition.",
    "message": "A human-readable explanation.",
    "lastTransitionTime": "When the status of this condition last changed.",
    "name": "The name of this entry; unique among its siblings.",
    "namespace": "The namespace of the referenced object.",
    "data": "The object's entries, key to value.",
    "immutable": "When true, the entries can no longer change (only deletion remains).",
    "labels": "Identifying key/value pairs that selectors match.",
    "annotations": "Non-identifying key/value pairs for tools and libraries.",
    "ports": "The network ports involved.",
    "port": "The port number.",
    "protocol": "TCP, UDP or SCTP (default TCP).",
    "nodeName": "The node this pod runs on; set through the binding subresource by a scheduler.",
}

_OBJECT_META: Final[Mapping[str, str]] = {
    "name": "The object's name, unique within its namespace and resource; it cannot change.",
    "generateName": "A prefix from which the server builds a unique name (five random "
    "characters appended) when name is empty.",
    "namespace": "The namespace of a namespaced object; empty for cluster-scoped objects "
    "(defaults to 'default' in requests that do not say).",
    "uid": "A unique identifier the server assigns at creation, never reused; it tells apart "
    "objects that had the same name at different times.",
    "resourceVersion": "An opaque version of this object: the store revision of its last "
    "change. Send it back on update to fail with a conflict if someone else wrote first.",
    "generation": "A counter of changes to the desired state (spec), maintained by the server.",
    "creationTimestamp": "When the server created the object (RFC 3339, UTC, seconds).",
    "deletionTimestamp": "When the object is to be gone: set by a delete request while "
    "finalizers or a grace period hold it. It can only move earlier.",
    "deletionGracePeriodSeconds": "The grace period of a pending deletion; only a smaller "
    "value may replace it.",
    "labels": "Key/value pairs that selectors of services and controllers match.",
    "annotations": "Key/value pairs for tools and libraries; not used for selection.",
    "ownerReferences": "The objects this one depends on. When every owner is gone the garbage "
    "collector deletes it; at most one owner is its controller.",
    "finalizers": "Keys that must all be removed before the object is deleted from storage. "
    "While any remains, a delete only sets deletionTimestamp.",
    "managedFields": "Which field manager owns which fields, for server-side apply; written by "
    "the server.",
}

FIELDS: Final[Mapping[str, Mapping[str, str]]] = {
    "ObjectMeta": _OBJECT_META,
    "OwnerReference": {
        "apiVersion": "The owner's API version.",
        "kind": "The owner's kind.",
        "name": "The owner's name.",
        "uid": "The owner's uid; a dependent whose owner has another uid counts as orphaned.",
        "controller": "True when the owner is this object's managing controller.",
        "blockOwnerDeletion": "When true, a foreground deletion of the owner waits for this "
        "dependent to be deleted first.",
    },
    "LabelSelector": {
        "matchLabels": "Labels that must all be present with these values.",
        "matchExpressions": "Requirements (In, NotIn, Exists, DoesNotExist) that must all hold.",
    },
    "PodTemplateSpec": {
        "metadata": "The labels and annotations the pods get.",
        "spec": "The pods' specification.",
    },
    "PodSpec": {
        "containers": "The containers of the pod; at least one. They cannot be added or removed "
        "once the pod exists.",
        "initContainers": "Containers that run to completion, in order, before the others start "
        "(or keep running as sidecars with restartPolicy Always).",
        "restartPolicy": "Always, OnFailure or Never (default Always).",
        "terminationGracePeriodSeconds": "How long the containers get to stop after a delete "
        "before they are killed (default 30).",
        "activeDeadlineSeconds": "How long the pod may run before the system fails it.",
        "dnsPolicy": "How the pod resolves names (default ClusterFirst).",
        "nodeSelector": "Labels a node must have for the pod to be scheduled there.",
        "serviceAccountName": "The service account the pod runs as.",
        "hostNetwork": "Use the node's network namespace.",
        "schedulerName": "The scheduler that places this pod (default default-scheduler).",
        "affinity": "Node affinity and pod (anti-)affinity rules for scheduling.",
        "tolerations": "The node taints this pod tolerates.",
        "priorityClassName": "The priority class that gives the pod its priority.",
        "priority": "The pod's priority, resolved from its priority class at admission.",
        "topologySpreadConstraints": "How to spread matching pods across topology domains.",
        "schedulingGates": "While any gate remains, the scheduler leaves the pod alone.",
        "volumes": "The volumes the containers may mount.",
    },
    "Container": {
        "name": "The container's name, unique within the pod (a DNS label).",
        "image": "The container image to run.",
        "command": "The entrypoint, replacing the image's ENTRYPOINT.",
        "args": "The arguments, replacing the image's CMD.",
        "workingDir": "The working directory.",
        "ports": "The ports the container listens on (informational).",
        "env": "Environment variables to set.",
        "envFrom": "Sources (config maps, secrets) whose keys become environment variables.",
        "resources": "The compute resources the container requests and is limited to.",
        "imagePullPolicy": "Always, Never or IfNotPresent (Always for a :latest image, else "
        "IfNotPresent).",
        "livenessProbe": "Restart the container when this check fails.",
        "readinessProbe": "Take the pod out of service endpoints while this check fails.",
        "startupProbe": "Hold the other probes until this check succeeds.",
        "restartPolicy": "Set to Always on an init container to make it a sidecar.",
        "volumeMounts": "Where the pod's volumes appear in the container.",
        "securityContext": "Security options of the container.",
    },
    "ContainerPort": {
        "containerPort": "The port number on the pod's IP address (1-65535).",
        "hostPort": "The port to expose on the node, if any.",
        "name": "A name for the port that services can refer to.",
    },
    "ResourceRequirements": {
        "requests": "The minimum resources the scheduler reserves for the container.",
        "limits": "The maximum resources the container may use.",
    },
    "DeploymentSpec": {
        "replicas": "How many pods are wanted (default 1).",
        "strategy": "How to replace old pods with new ones (RollingUpdate or Recreate).",
        "paused": "While true, template changes do not start a rollout.",
        "progressDeadlineSeconds": "How long a rollout may make no progress before it is "
        "reported as failed (default 600).",
        "revisionHistoryLimit": "How many old ReplicaSets to keep (default 10).",
    },
    "StatefulSetSpec": {
        "serviceName": "The headless service that gives the pods their network identities.",
        "podManagementPolicy": "OrderedReady (one pod at a time, in order) or Parallel.",
        "updateStrategy": "How template changes reach the pods (RollingUpdate or OnDelete).",
        "volumeClaimTemplates": "Claims each pod gets its own persistent volume from.",
        "persistentVolumeClaimRetentionPolicy": "Whether the claims are kept or deleted when "
        "the set is deleted or scaled down (default Retain for both).",
        "ordinals": "The numbering of the pods (start).",
    },
    "DaemonSetSpec": {
        "updateStrategy": "How template changes reach the pods (RollingUpdate or OnDelete).",
    },
    "JobSpec": {
        "parallelism": "How many pods may run at once.",
        "completions": "How many pods must succeed.",
        "backoffLimit": "How many retries before the job fails (default 6).",
        "activeDeadlineSeconds": "How long the job may run before it is terminated.",
        "ttlSecondsAfterFinished": "Delete the job this long after it finishes.",
        "suspend": "While true, the job creates no pods.",
        "completionMode": "NonIndexed or Indexed (each pod gets an index).",
    },
    "ServiceSpec": {
        "type": "ClusterIP (default), NodePort, LoadBalancer or ExternalName.",
        "selector": "The labels of the pods that receive the service's traffic.",
        "clusterIP": "The service's virtual IP, allocated by the server unless given; 'None' "
        "makes a headless service.",
        "ports": "The ports the service exposes.",
        "sessionAffinity": "ClientIP sends a client's connections to the same pod; None "
        "(default) does not.",
        "externalTrafficPolicy": "Cluster or Local: whether external traffic may leave the "
        "node it arrived on.",
    },
    "ServicePort": {
        "port": "The port the service exposes.",
        "targetPort": "The pod port (number or name) traffic goes to (default: port).",
        "nodePort": "The port on every node for NodePort and LoadBalancer services.",
        "name": "The port's name; required when there are several.",
    },
    "ConfigMap": {
        "data": "Configuration entries, key to UTF-8 text.",
        "binaryData": "Configuration entries, key to base64-encoded bytes.",
    },
    "Secret": {
        "data": "Secret entries, key to base64-encoded bytes.",
        "stringData": "Write-only entries as plain text, merged into data on write.",
        "type": "How the data is used (default Opaque).",
    },
    "NamespaceSpec": {"finalizers": "Keys that must be removed before the namespace goes."},
    "NamespaceStatus": {"phase": "Active, or Terminating once deletion has started."},
    "NodeSpec": {
        "unschedulable": "When true, no new pods are scheduled onto the node (cordoned).",
        "taints": "Taints that repel pods which do not tolerate them.",
        "podCIDR": "The pod IP range assigned to the node.",
    },
    "PodDisruptionBudgetSpec": {
        "minAvailable": "Evict only if this many (or this percentage) of the selected pods "
        "stay available.",
        "maxUnavailable": "Evict only if at most this many (or this percentage) of the "
        "selected pods are unavailable afterwards.",
        "selector": "The pods the budget protects; an empty selector matches none for eviction.",
        "unhealthyPodEvictionPolicy": "IfHealthyBudget (default) or AlwaysAllow: when an "
        "unready pod may be evicted.",
    },
    "PodDisruptionBudgetStatus": {
        "disruptionsAllowed": "How many pods may be evicted now.",
        "currentHealthy": "How many selected pods are healthy.",
        "desiredHealthy": "How many selected pods must stay healthy.",
        "expectedPods": "How many pods the budget counts.",
        "disruptedPods": "Pods whose eviction was admitted but not yet seen deleted.",
    },
    "HorizontalPodAutoscalerSpec": {
        "scaleTargetRef": "The object whose scale subresource is adjusted.",
        "minReplicas": "The lowest replica count (default 1).",
        "maxReplicas": "The highest replica count.",
        "metrics": "The metrics that decide the desired replica count.",
    },
    "LeaseSpec": {
        "holderIdentity": "Who holds the lease.",
        "leaseDurationSeconds": "How long the holder may go without renewing.",
        "renewTime": "When the holder last renewed the lease.",
        "acquireTime": "When the current holder acquired the lease.",
        "leaseTransitions": "How many times the lease changed holder.",
    },
}


def describe(component: str, field: str) -> str:
    """The description of ``field`` in schema ``component``; empty when none is written."""
    return FIELDS.get(component, {}).get(field) or COMMON.get(field, "")
