"""The API's reference page, rendered on the server from the OpenAPI description.

FastAPI's interactive docs page loads its script and styles from a CDN and runs an inline
script, which the app's content security policy (web/app.py: scripts and styles from this
site only) rightly refuses. This page needs neither: every operation with its parameters, body,
answers and the schemas they use, as plain HTML. The machine-readable description stays at
/api/openapi.json.
"""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

router = APIRouter(include_in_schema=False)
METHODS = ("get", "post", "put", "patch", "delete")


def _type(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " | ".join(_type(s) for s in schema[key])
    if schema.get("type") == "array":
        return f"list of {_type(schema.get('items', {}))}"
    if "enum" in schema:
        return " | ".join(repr(v) for v in schema["enum"])
    return str(schema.get("type", "any"))


def _body(op: dict[str, Any]) -> str:
    content = op.get("requestBody", {}).get("content", {})
    for kind, spec in content.items():
        return f"{kind}: {_type(spec.get('schema', {}))}"
    return ""


def operations(spec: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for path, item in spec.get("paths", {}).items():
        if not path.startswith("/api/"):
            continue
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            out.append({
                "method": method.upper(), "path": path, "id": f"{method}-{path}",
                "tag": (op.get("tags") or ["api"])[0], "summary": op.get("summary", ""),
                "description": op.get("description", ""),
                "parameters": [{"name": p["name"], "in": p["in"],
                                "required": p.get("required", False),
                                "type": _type(p.get("schema", {})),
                                "description": p.get("description", "")}
                               for p in op.get("parameters", [])],
                "body": _body(op),
                "responses": [{"status": code, "description": r.get("description", ""),
                               "type": next((_type(c.get("schema", {}))
                                             for c in r.get("content", {}).values()), "")}
                              for code, r in op.get("responses", {}).items()]})
    return sorted(out, key=lambda o: (o["tag"], o["path"], o["method"]))


def _used(spec: dict[str, Any]) -> set[str]:
    """The schemas the API's operations use, directly or inside another: not the bodies of the
    web pages' forms, which share the app's OpenAPI description."""
    found = spec.get("components", {}).get("schemas", {})
    todo = [item for path, item in spec.get("paths", {}).items() if path.startswith("/api/")]
    used: set[str] = set()
    while todo:
        for name in re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(todo.pop())):
            if name not in used and name in found:
                used.add(name)
                todo.append(found[name])
    return used


def schemas(spec: dict[str, Any]) -> list[dict[str, Any]]:
    used = _used(spec)
    found = {k: v for k, v in spec.get("components", {}).get("schemas", {}).items() if k in used}
    return [{"name": name, "fields": [
        {"name": f, "type": _type(s), "required": f in body.get("required", []),
         "description": s.get("description", "")}
        for f, s in body.get("properties", {}).items()]}
        for name, body in sorted(found.items())]


@router.get("/api/reference", response_class=HTMLResponse)
def reference(request: Request) -> HTMLResponse:
    from escapevelocity.web.errors import logged_in

    logged_in(request)  # public, but a member who came from Settings keeps the navigation
    spec = request.app.openapi()
    return request.app.state.render(request, "api_reference.html", {
        "title": spec.get("info", {}).get("title", ""), "operations": operations(spec),
        "schemas": schemas(spec)})


@router.get("/api/docs")
def docs() -> RedirectResponse:
    """Where FastAPI's interactive page was (it cannot run under the CSP): the reference."""
    return RedirectResponse("/api/reference", status_code=307)
