"""The operator's only writer to the Kubernetes API: server-side apply, delete, status, events.

Built on kubernetes_asyncio's `ApiClient` for what it does well — kubeconfig / in-cluster auth,
token refresh, TLS — and its generic `call_api` for the requests, so one code path serves every
kind and bodies stay plain dicts (the builders' output is sent as is; responses come back as dicts
for the cache). Every write is counted in `tvtt_operator_api_writes_total`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException

from tvtt_operator.builders import FIELD_MANAGER
from tvtt_operator.kinds import BY_KIND, EVENT, TRAVELLER_VTT, ChildKind
from tvtt_operator.metrics import API_WRITES


class KubeError(Exception):
    """An API error with the server's own message (what a person needs to fix it)."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message

    @classmethod
    def from_api(cls, exc: ApiException) -> KubeError:
        """Pull `message` out of the Status body; never include headers (they may carry tokens)."""
        message = str(exc.reason)
        try:
            body = json.loads(exc.body or "{}")
            message = str(body.get("message") or message)
        except (TypeError, ValueError):
            pass
        return cls(int(exc.status or 0), str(exc.reason), message)


def object_path(kind: str, namespace: str, name: str | None = None) -> str:
    """REST path of a namespaced object (or its collection when `name` is None)."""
    return BY_KIND[kind].path(namespace, name)


def _kubeconfig_path() -> Path | None:
    """The first $KUBECONFIG entry or ~/.kube/config, if it exists (else: in-cluster)."""
    candidate = os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
    path = Path(candidate) if candidate else Path.home() / ".kube" / "config"
    return path if path.exists() else None


@dataclass
class KubeClient:
    """Thin async wrapper; create with `await KubeClient.connect()` and `await close()`."""

    api: client.ApiClient

    @classmethod
    async def connect(cls) -> KubeClient:
        """Load credentials the way kubectl would: $KUBECONFIG / ~/.kube/config, else in-cluster."""
        kubeconfig = _kubeconfig_path()
        configuration = client.Configuration()
        if kubeconfig is not None:
            await config.load_kube_config(
                config_file=str(kubeconfig), client_configuration=configuration
            )
        else:
            config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        return cls(api=client.ApiClient(configuration=configuration))

    async def close(self) -> None:
        """Close the HTTP session."""
        await self.api.close()

    async def _call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        content_type: str = "application/json",
        query: list[tuple[str, str]] | None = None,
        kind: str,
        accept: str = "application/json",
    ) -> dict[str, Any]:
        if method != "GET":
            API_WRITES.labels(verb=method if content_type != APPLY else "APPLY", kind=kind).inc()
        try:
            result = await self.api.call_api(
                path,
                method,
                query_params=query or [],
                header_params={"Content-Type": content_type, "Accept": accept},
                body=body,
                response_types_map={200: "object", 201: "object", 202: "object"},
                auth_settings=["BearerToken"],
                _return_http_data_only=True,
                _request_timeout=30,
            )
        except ApiException as exc:
            raise KubeError.from_api(exc) from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            # API server restarting or unreachable: an ordinary, retryable API failure.
            raise KubeError(0, "Unavailable", f"API server unreachable: {exc!r}") from None
        return dict(result or {})

    async def apply(
        self, manifest: dict[str, Any], *, manager: str = FIELD_MANAGER
    ) -> dict[str, Any]:
        """Server-side apply `manifest` as `manager`, forcing conflicts on the fields it sends.

        Force is safe here because the builders send only fields the operator owns; fields it
        does not send (HPA-owned replicas, a rollback's template when skipped) are untouched.
        """
        meta = manifest["metadata"]
        path = object_path(manifest["kind"], meta["namespace"], meta["name"])
        return await self._call(
            "PATCH",
            path,
            body=manifest,
            content_type=APPLY,
            query=[("fieldManager", manager), ("force", "true")],
            kind=manifest["kind"],
        )

    async def json_patch(
        self,
        kind: ChildKind,
        namespace: str,
        name: str,
        operations: list[dict[str, Any]],
        *,
        manager: str = FIELD_MANAGER,
    ) -> dict[str, Any]:
        """Apply an RFC 6902 JSON patch (removing fields another manager added: drift; the
        rollout analysis's rollback)."""
        return await self._call(
            "PATCH",
            kind.path(namespace, name),
            body=operations,
            content_type="application/json-patch+json",
            query=[("fieldManager", manager)],
            kind=kind.kind,
        )

    async def delete(self, kind: ChildKind, namespace: str, name: str) -> None:
        """Delete a child in the background (the garbage collector removes its dependents)."""
        try:
            await self._call(
                "DELETE",
                kind.path(namespace, name),
                body={"propagationPolicy": "Background"},
                kind=kind.kind,
            )
        except KubeError as exc:
            if exc.status != 404:
                raise

    async def patch_status(
        self, namespace: str, name: str, status: dict[str, Any]
    ) -> dict[str, Any]:
        """Merge-patch the TravellerVTT's status subresource (conditions are replaced whole)."""
        path = TRAVELLER_VTT.path(namespace, name) + "/status"
        return await self._call(
            "PATCH",
            path,
            body={"status": status},
            content_type="application/merge-patch+json",
            query=[("fieldManager", FIELD_MANAGER)],
            kind=TRAVELLER_VTT.kind,
        )

    async def merge_patch(
        self, kind: ChildKind, namespace: str, name: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        """A JSON merge patch of an object the operator does not apply (the Redis claim)."""
        return await self._call(
            "PATCH",
            kind.path(namespace, name),
            body=body,
            content_type="application/merge-patch+json",
            query=[("fieldManager", FIELD_MANAGER)],
            kind=kind.kind,
        )

    async def exists(self, kind: ChildKind, namespace: str, name: str) -> bool:
        """Whether an object exists, asking for its metadata only (a Secret's data never
        reaches the operator this way)."""
        try:
            await self._call(
                "GET",
                kind.path(namespace, name),
                kind=kind.kind,
                accept=METADATA_ONLY,
            )
        except KubeError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    async def get(self, kind: ChildKind, namespace: str, name: str) -> dict[str, Any] | None:
        """One object, or None if it does not exist (the Lease)."""
        try:
            return await self._call("GET", kind.path(namespace, name), kind=kind.kind)
        except KubeError as exc:
            if exc.status == 404:
                return None
            raise

    async def list_objects(
        self, kind: ChildKind, namespace: str, label_selector: str
    ) -> list[dict[str, Any]]:
        """The objects of a kind matching a label selector (the ReplicaSets of a Deployment)."""
        result = await self._call(
            "GET",
            kind.path(namespace),
            query=[("labelSelector", label_selector)],
            kind=kind.kind,
        )
        return [dict(item) for item in result.get("items") or []]

    async def create(self, kind: ChildKind, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST a new object (fails with 409 if it exists: how two candidates race for a Lease)."""
        return await self._call(
            "POST",
            kind.path(namespace),
            body=body,
            query=[("fieldManager", FIELD_MANAGER)],
            kind=kind.kind,
        )

    async def replace(
        self, kind: ChildKind, namespace: str, name: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        """PUT with the body's resourceVersion: 409 when someone else wrote in between."""
        return await self._call(
            "PUT",
            kind.path(namespace, name),
            body=body,
            query=[("fieldManager", FIELD_MANAGER)],
            kind=kind.kind,
        )

    async def post_event(self, event: dict[str, Any]) -> None:
        """Create a core/v1 Event (kubectl describe shows it under the resource)."""
        namespace = event["metadata"]["namespace"]
        await self._call("POST", EVENT.path(namespace), body=event, kind=EVENT.kind)


APPLY = "application/apply-patch+yaml"
METADATA_ONLY = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"
