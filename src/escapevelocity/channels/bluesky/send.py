"""Replies on Bluesky over XRPC (httpx; Jetstream, the inbound side, needs no client library,
and the atproto SDK would bring pydantic and a code generator for five calls).

A public reply is a `app.bsky.feed.post` record made with com.atproto.repo.createRecord whose
`reply` holds strong references (uri + cid) to the thread's root and to the post answered,
read with app.bsky.feed.getPosts. A private reply is a chat message (chat.bsky.convo, through
the PDS's service proxy) to the customer's DID; an author known by handle is resolved with
com.atproto.identity.resolveHandle first. The record key is derived from the reply's
idempotency key, so before trying again the sender looks for the record (getRecord): a try that
timed out after the PDS wrote it is found, not posted twice. An expired access token is
refreshed once (a new session from the app password).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from escapevelocity.adapters import tls
from escapevelocity.adapters.secrets import reveal
from escapevelocity.channels.base import retry_after_seconds
from escapevelocity.domain.outbound import SendResult

POST = "app.bsky.feed.post"
CHAT_PROXY = "did:web:api.bsky.chat#bsky_chat"
MAX_GRAPHEMES = 300
_B32 = "234567abcdefghijklmnopqrstuvwxyz"


class Failure(Exception):
    def __init__(self, result: SendResult) -> None:
        super().__init__(result.error)
        self.result = result


def record_key(key: str, at: datetime) -> str:
    """A TID (13 base32-sortable characters: microseconds since the epoch, then a 10-bit clock
    id) from the reply's time and its idempotency key: the same reply, the same record key."""
    micros = int(at.timestamp() * 1_000_000) & ((1 << 53) - 1)
    clock = int.from_bytes(hashlib.sha256(key.encode()).digest()[:2], "big") & 0x3FF
    n = (micros << 10) | clock
    return "".join(_B32[(n >> (5 * i)) & 31] for i in reversed(range(13)))


def split_uri(uri: str) -> tuple[str, str, str]:
    """at://authority/collection/rkey → its three parts."""
    parts = uri.removeprefix("at://").split("/")
    if len(parts) != 3 or not uri.startswith("at://"):
        raise Failure(SendResult(error=f"not a Bluesky post uri: {uri[:80]!r}"))
    return parts[0], parts[1], parts[2]


class BlueskySender:
    name, private = "bluesky", True

    def __init__(self, settings: Mapping[str, Any], secrets: Mapping[str, str]) -> None:
        import httpx

        self.pds = str(settings.get("pds_url") or "https://bsky.social").rstrip("/")
        self.identifier = reveal(secrets.get("identifier", ""))
        self.password = reveal(secrets.get("app_password", ""))
        self.http = httpx.Client(timeout=float(settings.get("send_timeout") or 10),
                                 verify=tls.verify(), headers={"User-Agent": "escapevelocity"})
        self.session: dict[str, Any] | None = None

    # --- XRPC ---------------------------------------------------------------------------------

    def _call(self, method: str, nsid: str, *, params: Mapping[str, Any] | None = None,
              body: Any = None, auth: bool = True, proxy: str = "",
              retried: bool = False) -> dict[str, Any]:
        import httpx

        headers = {}
        if auth:
            headers["Authorization"] = f"Bearer {self._login()['accessJwt']}"
        if proxy:
            headers["atproto-proxy"] = proxy
        try:
            r = self.http.request(method, f"{self.pds}/xrpc/{nsid}", params=params, json=body,
                                  headers=headers)
        except httpx.TimeoutException as exc:
            raise Failure(SendResult(error=f"Bluesky timed out ({nsid}): {exc}",
                                     transient=True)) from None
        except httpx.TransportError as exc:
            raise Failure(SendResult(error=f"Bluesky unreachable ({nsid}): {exc}",
                                     transient=True)) from None
        try:
            data = r.json() if r.content else {}
        except ValueError:
            data = {}
        if not isinstance(data, dict):
            data = {}
        error = str(data.get("error") or "")
        if r.status_code == 429:
            after = retry_after_seconds(r.headers.get("Retry-After"))
            reset = r.headers.get("ratelimit-reset")
            if after is None and reset and reset.isdigit():
                after = max(0.0, int(reset) - time.time())
            raise Failure(SendResult(error="Bluesky rate limit", transient=True,
                                     retry_after=after))
        if r.status_code >= 500:
            raise Failure(SendResult(error=f"Bluesky server error {r.status_code} ({nsid})",
                                     transient=True))
        if error == "ExpiredToken" and auth and not retried:
            self.session = None  # a new session, once
            return self._call(method, nsid, params=params, body=body, auth=auth, proxy=proxy,
                              retried=True)
        if r.status_code in (401, 403) or error in ("AuthenticationRequired", "InvalidToken",
                                                    "ExpiredToken", "AccountTakedown"):
            raise Failure(SendResult(error=f"Bluesky refused the credentials (expired?): "
                                           f"{error or r.status_code}"))
        if r.status_code >= 400:
            raise Failure(SendResult(error=f"Bluesky: {error or r.status_code}: "
                                           f"{str(data.get('message') or '')[:200]}"))
        return data

    def _login(self) -> dict[str, Any]:
        if self.session is None:
            if not self.identifier or not self.password:
                raise Failure(SendResult(error="Bluesky replies need the secrets identifier "
                                               "and app_password"))
            self.session = self._call("POST", "com.atproto.server.createSession", auth=False,
                                      body={"identifier": self.identifier,
                                            "password": self.password})
        return self.session

    def resolve(self, handle_or_did: str) -> str:
        """A DID for a handle (com.atproto.identity.resolveHandle); a DID is returned as is."""
        value = handle_or_did.removeprefix("@")
        if value.startswith("did:"):
            return value
        return str(self._call("GET", "com.atproto.identity.resolveHandle", auth=False,
                              params={"handle": value})["did"])

    # --- the Sender ---------------------------------------------------------------------------

    def send_reply(self, case: Mapping[str, Any], text: str, visibility: str) -> SendResult:
        try:
            if visibility == "private":
                return self._message(case, text)
            return self._post(case, text)
        except Failure as failure:
            return failure.result

    def _post(self, case: Mapping[str, Any], text: str) -> SendResult:
        if len(text) > MAX_GRAPHEMES:
            return SendResult(error=f"the reply is {len(text)} characters; Bluesky takes "
                                    f"{MAX_GRAPHEMES}")
        authority, collection, rkey = split_uri(str(case["source_id"]))
        parent_uri = f"at://{self.resolve(authority)}/{collection}/{rkey}"
        posts = self._call("GET", "app.bsky.feed.getPosts", params={"uris": parent_uri})
        found = posts.get("posts") or []
        if not found:
            return SendResult(error="Bluesky cannot find the post to answer (deleted?)")
        parent = {"uri": found[0]["uri"], "cid": found[0]["cid"]}
        root = ((found[0].get("record") or {}).get("reply") or {}).get("root") or parent
        did = self._login()["did"]
        at = str(case.get("at") or datetime.now().astimezone().isoformat())
        made = self._call("POST", "com.atproto.repo.createRecord", body={
            "repo": did, "collection": POST, "rkey": self._rkey(case),
            "record": {"$type": POST, "text": text, "createdAt": at,
                       "reply": {"root": {"uri": root["uri"], "cid": root["cid"]},
                                 "parent": parent}}})
        return SendResult(network_id=str(made["uri"]), url=self._web(made["uri"]))

    def _rkey(self, case: Mapping[str, Any]) -> str:
        at = datetime.fromisoformat(str(case["at"])) if case.get("at") else datetime.now()
        return record_key(str(case["key"]), at)

    def _web(self, uri: str) -> str:
        _, _, rkey = split_uri(uri)
        handle = (self.session or {}).get("handle") or (self.session or {}).get("did")
        return f"https://bsky.app/profile/{handle}/post/{rkey}"

    def _message(self, case: Mapping[str, Any], text: str) -> SendResult:
        member = self.resolve(str(case.get("author_handle") or ""))
        convo = self._call("GET", "chat.bsky.convo.getConvoForMembers",
                           params={"members": member}, proxy=CHAT_PROXY)["convo"]["id"]
        sent = self._call("POST", "chat.bsky.convo.sendMessage", proxy=CHAT_PROXY,
                          body={"convoId": convo, "message": {"text": text}})
        return SendResult(network_id=f"chat:{convo}:{sent['id']}")

    def find_sent(self, case: Mapping[str, Any], text: str, visibility: str
                  ) -> SendResult | None:
        """Did the last try post after all? The record under this reply's key (a public
        reply), or our own message with these words in the conversation (a private one)."""
        try:
            if visibility == "private":
                member = self.resolve(str(case.get("author_handle") or ""))
                convo = self._call("GET", "chat.bsky.convo.getConvoForMembers",
                                   params={"members": member}, proxy=CHAT_PROXY)["convo"]["id"]
                log = self._call("GET", "chat.bsky.convo.getMessages", proxy=CHAT_PROXY,
                                 params={"convoId": convo, "limit": 20})
                me = self._login()["did"]
                hit = next((m for m in log.get("messages") or ()
                            if (m.get("sender") or {}).get("did") == me
                            and m.get("text") == text), None)
                return SendResult(network_id=f"chat:{convo}:{hit['id']}") if hit else None
            did = self._login()["did"]
            got = self._call("GET", "com.atproto.repo.getRecord", params={
                "repo": did, "collection": POST, "rkey": self._rkey(case)})
        except Failure:
            return None  # not found, or cannot tell: the next try decides
        return SendResult(network_id=str(got["uri"]), url=self._web(got["uri"]))

    def close(self) -> None:
        self.http.close()
