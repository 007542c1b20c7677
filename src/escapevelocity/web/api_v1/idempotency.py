"""Idempotency keys for actions that send words to customers (reply, approve).

A client that lost the answer to a send retries with the same `Idempotency-Key`: the key is
reserved in the database before the command runs (so two retries racing each other cannot both
send; the second is told the first is in progress), and the successful answer is kept under it.
The same key then answers the kept result with `Idempotent-Replayed: true` and sends nothing.
A key is bound to its token, route and request body: the same key with another body is refused.
An attempt that failed sent nothing and keeps nothing, so it may be retried with its key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from escapevelocity.services.tokens import Principal
from escapevelocity.web.api_v1.auth import ApiError


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


async def once(request: Request, who: Principal, key: str | None,
               run: Callable[[], Awaitable[Any]]) -> Any:
    if not key:
        return await run()
    if not key.isprintable():
        raise ApiError(400, "invalid_idempotency_key", "the Idempotency-Key must be printable")
    body = await request.body()
    slot = _digest(who.token, request.method, request.url.path, key)
    fingerprint = _digest(body.decode("utf-8", "replace"))
    store, clock = request.app.state.workspace.store, request.app.state.workspace.clock

    def reserve() -> tuple[int, str] | None:
        with store.begin() as tx:
            return tx.signin.idempotent_claim(slot, clock.now())

    def keep(status: int, text: str) -> None:
        with store.begin() as tx:
            tx.signin.idempotent_store(slot, status, text)

    def forget() -> None:
        with store.begin() as tx:
            tx.signin.idempotent_forget(slot)

    found = await run_in_threadpool(reserve)
    if found is not None:
        status, text = found
        if status == 0:
            raise ApiError(409, "idempotency_in_progress", "a request with this "
                           "Idempotency-Key is still being carried out; retry shortly")
        kept = json.loads(text)
        if kept["fingerprint"] != fingerprint:
            raise ApiError(422, "idempotency_key_reused", "this Idempotency-Key was used with "
                           "another request body; use a new key for a new request")
        return JSONResponse(kept["body"], status_code=status,
                            headers={"Idempotent-Replayed": "true"})
    try:
        result = await run()
    except BaseException:
        await run_in_threadpool(forget)
        raise
    payload = jsonable_encoder(result)
    await run_in_threadpool(keep, 200, json.dumps({"fingerprint": fingerprint,
                                                   "body": payload}))
    return JSONResponse(payload, status_code=200)


__all__ = ["Response", "once"]
