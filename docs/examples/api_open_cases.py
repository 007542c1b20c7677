"""Page through the open cases, claim one, reply and resolve it: the /api/v1 round trip.

    EV_URL=http://127.0.0.1:8000 EV_TOKEN=ev_… python docs/examples/api_open_cases.py

EV_TOKEN is a personal token (Settings → API tokens in the web app, or
`ev token create my-script --as YOU`) with the cases:read and cases:act scopes: the script acts
as you, and may do what you may do on the case page, nothing more. Only httpx is needed.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator

import httpx

REPLY = "Thanks for telling us. We have looked into it and sorted it out; reply here if not."


def open_cases(api: httpx.Client) -> Iterator[dict]:
    """Every open case in your teams' queues, a page at a time (the Link header's next)."""
    url: str | None = "/api/v1/cases?view=queue&limit=20"
    while url:
        r = api.get(url)
        r.raise_for_status()
        yield from r.json()["items"]
        url = r.links.get("next", {}).get("url")  # absent on the last page


def act(api: httpx.Client, case_id: str, action: str, body: dict | None = None,
        key: str | None = None) -> dict:
    headers = {"Idempotency-Key": key} if key else {}
    r = api.post(f"/api/v1/cases/{case_id}/{action}", json=body or {}, headers=headers)
    if r.is_error:  # one error shape: {"error": {"code": …, "message": …}}
        error = r.json()["error"]
        raise SystemExit(f"{action} {case_id}: {error['code']}: {error['message']}")
    return r.json()


def main(base_url: str, token: str) -> str:
    with httpx.Client(base_url=base_url, timeout=30,
                      headers={"Authorization": f"Bearer {token}"}) as api:
        seen = 0
        chosen = None
        for case in open_cases(api):
            seen += 1
            if chosen is None and "claim" in case["allowed_actions"]:
                chosen = case
        if chosen is None:
            raise SystemExit(f"{seen} open cases, none you may claim")
        case_id = chosen["id"]
        print(f"{seen} open cases; taking {case_id}: {chosen['title']!r}")
        act(api, case_id, "claim")
        detail = api.get(f"/api/v1/cases/{case_id}").json()
        # The same key again (a retry after a lost answer) sends nothing twice.
        sent = act(api, case_id, "reply", {"text": REPLY, "seen_seq": detail["last_seq"]},
                   key=str(uuid.uuid4()))
        if sent["event"]["kind"] == "approval_requested":
            print(f"the reply waits for approval by {sent['event']['data']['approver']}")
            return case_id
        resolved = act(api, case_id, "resolve", {"note": "answered through the API"})
        print(f"replied and {resolved['case']['state']}")
        return case_id


if __name__ == "__main__":
    token = os.environ.get("EV_TOKEN")
    if not token:
        sys.exit("set EV_TOKEN to a personal API token")
    main(os.environ.get("EV_URL", "http://127.0.0.1:8000"), token)
