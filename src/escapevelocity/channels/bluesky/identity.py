"""Handle → DID (com.atproto.identity.resolveHandle over XRPC, httpx). Jetstream filters by
DID and carries DIDs; people know accounts by handle. A connection's `accounts` may name either:
handles are resolved once when its connector opens, and the handle is kept to name the author.
"""

from __future__ import annotations

from escapevelocity.adapters import tls
from escapevelocity.channels.base import Misconfigured, RateLimited, Transient, retry_after_seconds

DEFAULT_RESOLVER = "https://public.api.bsky.app"


def resolve_handle(base_url: str, handle: str, timeout: float = 10.0) -> str:
    """The DID of `handle` (a DID is returned as it is)."""
    import httpx

    handle = handle.strip().removeprefix("@")
    if handle.startswith("did:"):
        return handle
    try:
        r = httpx.get(f"{base_url.rstrip('/')}/xrpc/com.atproto.identity.resolveHandle",
                      params={"handle": handle}, timeout=timeout, verify=tls.verify())
    except httpx.HTTPError as exc:
        raise Transient(f"Bluesky handle resolution unreachable: {exc}") from None
    if r.status_code == 429:
        raise RateLimited("Bluesky handle resolution: 429",
                          retry_after_seconds(r.headers.get("Retry-After")))
    if r.status_code >= 500:
        raise Transient(f"Bluesky handle resolution: HTTP {r.status_code}")
    try:
        did = r.json().get("did") if r.status_code == 200 else None
    except ValueError:
        did = None
    if not isinstance(did, str) or not did.startswith("did:"):
        raise Misconfigured(f"Bluesky has no account with the handle {handle!r}")
    return did
