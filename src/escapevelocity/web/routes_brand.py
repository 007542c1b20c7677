"""The Brand page: the workspace's brand profile (who "we" are: names, handles per channel,
products, competitors, executives, campaign hashtags) and its versions. Everyone may read
it; admins (CONFIGURE) save a new version. The handler translates the form into the
profile's mapping; domain/brand.py validates it and services/brand.py saves it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from escapevelocity.domain import permissions as perm
from escapevelocity.domain.brand import BrandError, BrandProfile, parse
from escapevelocity.domain.org import Member
from escapevelocity.services import brand as brand_service
from escapevelocity.web import auth

router = APIRouter(tags=["brand"])
FIELD_CHARS = 20_000  # per form field


def _lines(text: str) -> list[str]:
    """One entry per line (or comma-separated on one line)."""
    return [p.strip() for line in text.splitlines() for p in line.split(",") if p.strip()]


def _handles(text: str) -> dict[str, list[str]] | list[str]:
    """Lines like "@acme" (every channel) or "twitter: @acme, @acmehelp"."""
    by_channel: dict[str, list[str]] = {}
    for line in text.splitlines():
        channel, sep, rest = line.partition(":")
        if not sep:
            channel, rest = "all", line
        by_channel.setdefault(channel.strip() or "all", []).extend(_lines(rest))
    return by_channel


def _handles_text(profile: BrandProfile) -> str:
    return "\n".join(f"{'all' if ch == '*' else ch}: " + ", ".join(f"@{h}" for h in hs)
                     for ch, hs in profile.handles.items())


def _page(request: Request, member: Member, error: str = "",
          form: dict[str, str] | None = None) -> dict[str, Any]:
    profile, version = brand_service.current(request.app.state.workspace.store)
    fields = form or {
        "name": profile.name, "names": "\n".join(profile.names),
        "handles": _handles_text(profile), "products": "\n".join(profile.products),
        "competitors": "\n".join(profile.competitors),
        "executives": "\n".join(profile.executives), "hashtags": "\n".join(profile.hashtags)}
    return {"me": member, "profile": profile, "version": version, "fields": fields,
            "history": brand_service.history(request.app.state.workspace.store)[:20],
            "can_edit": perm.allowed((member.role,), perm.CONFIGURE), "error": error}


@router.get("/brand", response_class=HTMLResponse)
async def brand_page(request: Request, member: Member = Depends(auth.member_of)) -> HTMLResponse:
    data = await run_in_threadpool(_page, request, member)
    return request.app.state.render(request, "brand.html", data)


@router.post("/brand", dependencies=[Depends(auth.check_csrf)], response_model=None)
async def save_brand(request: Request, member: Member = Depends(auth.member_of),
                     name: str = Form("", max_length=200),
                     names: str = Form("", max_length=FIELD_CHARS),
                     handles: str = Form("", max_length=FIELD_CHARS),
                     products: str = Form("", max_length=FIELD_CHARS),
                     competitors: str = Form("", max_length=FIELD_CHARS),
                     executives: str = Form("", max_length=FIELD_CHARS),
                     hashtags: str = Form("", max_length=FIELD_CHARS),
                     note: str = Form("", max_length=500)) -> Any:
    form = {"name": name, "names": names, "handles": handles, "products": products,
            "competitors": competitors, "executives": executives, "hashtags": hashtags}
    if not perm.allowed((member.role,), perm.CONFIGURE):
        raise HTTPException(403, f"your role ({member.role}) may not edit the brand profile")
    workspace = request.app.state.workspace
    try:
        profile = parse({"name": name, "names": _lines(names), "handles": _handles(handles),
                         "products": _lines(products), "competitors": _lines(competitors),
                         "executives": _lines(executives), "hashtags": _lines(hashtags)})
        await run_in_threadpool(brand_service.save, workspace.store, workspace.clock,
                                member.id, profile.to_yaml(), note)
    except BrandError as exc:
        data = await run_in_threadpool(_page, request, member, str(exc), form)
        return request.app.state.render(request, "brand.html", data, status=422)
    except perm.PermissionDenied as exc:
        raise HTTPException(403, str(exc)) from None
    return RedirectResponse("/brand", status_code=303)
