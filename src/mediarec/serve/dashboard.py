"""The web dashboard: server-rendered pages over the same engine as the API, fully offline.

Every page is a Jinja2 template with autoescaping, and the Content-Security-Policy forbids inline
scripts, so text from media or users renders as text. The one script and one stylesheet ship in
``serve/static``. Writes (profile edits, deleting a user) go through the app's single writer, like
the API's, and need the page's CSRF token; see :mod:`mediarec.serve.dashboard_auth` for access.
"""

from __future__ import annotations

import asyncio
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, quote

import jinja2
from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from mediarec import limits
from mediarec.engine import MediaRec
from mediarec.records import ITEM_KINDS
from mediarec.serve import dashboard_pages as pages
from mediarec.serve import dashboard_steer as steer_pages
from mediarec.serve.auth import keys_match
from mediarec.serve.dashboard_auth import COOKIE, CSRF_HEADER, Access, safe_next
from mediarec.serve.dashboard_queries import recent_users

HERE = Path(__file__).parent
STATIC = {"dashboard.css": "text/css", "dashboard.js": "text/javascript"}
# Inline scripts and styles are refused outright; everything comes from this server.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


@lru_cache(maxsize=1)
def _templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,  # every template is HTML: escape everything unless a template says otherwise
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["clock"] = pages.clock
    env.filters["path"] = lambda value: quote(str(value), safe="")
    env.filters["when"] = _when
    return env


def _when(ts: float | None) -> str:
    import time

    if ts is None:
        return ""
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))
    except (OverflowError, OSError, ValueError):
        # Stored before timestamps were bounded (1e18, 1e308, NaN): say so rather than fail the page.
        return "invalid time"


class ProfileEdit(BaseModel):
    user: str = Field(min_length=1, max_length=limits.MAX_ID_CHARS)
    text: str | None = Field(None, max_length=limits.MAX_PROFILE_TEXT_CHARS)
    add_tags: list[Annotated[str, Field(max_length=limits.MAX_TAG_CHARS)]] = Field(
        default_factory=list, max_length=limits.MAX_EDIT_TAGS
    )
    remove_tags: list[Annotated[str, Field(max_length=limits.MAX_TAG_CHARS)]] = Field(
        default_factory=list, max_length=limits.MAX_EDIT_TAGS
    )


class UserRef(BaseModel):
    user: str = Field(min_length=1, max_length=limits.MAX_ID_CHARS)


def install_dashboard(app: FastAPI, engine: MediaRec, listen_host: str) -> None:
    """Add the dashboard's routes to ``app``; ``listen_host`` decides whether it asks for a login."""
    access = Access(listen_host)
    app.state.dashboard_access = access
    app.include_router(_router(engine, access, app))


def _router(engine: MediaRec, access: Access, app: FastAPI) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    def render(request: Request, template: str, csrf: str, status: int = 200, **context: Any) -> HTMLResponse:
        page = _templates().get_template(template)
        html = page.render(csrf=csrf, login=access.login_required, path=request.url.path, **context)
        headers = {**SECURITY_HEADERS, "Cache-Control": "no-store"}
        return HTMLResponse(html, status_code=status, headers=headers)

    def gate(request: Request) -> str | Response:
        """The request's CSRF token when it may see pages; else the response that sends it away."""
        if not access.login_required and not access.host_allowed(request.headers.get("host")):
            return _plain(403, "this dashboard answers on loopback names only (localhost, 127.0.0.1, [::1])")
        csrf = access.csrf_for(request.cookies.get(COOKIE), request.headers.get("host"))
        if csrf is not None:
            return csrf
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/ui/login?next={quote(target, safe='')}", status_code=303)

    def gate_data(request: Request) -> None:
        """Files and JSON: no redirect to a form, just a refusal."""
        if isinstance(gate(request), Response):
            raise HTTPException(401, "log in to the dashboard first (/ui/login)")

    def gate_write(request: Request) -> None:
        found = gate(request)
        if isinstance(found, Response):
            raise HTTPException(401, "log in to the dashboard first (/ui/login)")
        if not access.csrf_ok(found, request.headers.get(CSRF_HEADER)):
            raise HTTPException(403, f"missing or wrong {CSRF_HEADER} header: reload the page and try again")

    def not_found(request: Request, csrf: str, what: str) -> HTMLResponse:
        return render(request, "error.html", csrf, status=404, title="Not found", message=what)

    # -- pages -------------------------------------------------------------------------------
    @router.get("/")
    def catalogue(
        request: Request, q: str = "", tag: str = "", kind: str = "", creator: str = "", page: int = 1
    ) -> Response:
        csrf = gate(request)
        if isinstance(csrf, Response):
            return csrf
        query = pages.CatalogueQuery(
            q=q.strip()[:200],
            tag=tag.strip()[:200],
            kind=kind if kind in ITEM_KINDS else "",
            creator=creator.strip()[:200],
            page=max(1, page),
        )
        return render(request, "catalogue.html", csrf, kinds=ITEM_KINDS, **pages.catalogue(engine, query))

    @router.get("/ui/items/{item_id:path}")
    def item(request: Request, item_id: str, t: str = "", ask: str = "") -> Response:
        csrf = gate(request)
        if isinstance(csrf, Response):
            return csrf
        found = pages.item_page(engine, item_id, None)
        if found is None:
            return not_found(request, csrf, f"There is no item {item_id!r} in the catalogue.")
        # ?t= is validated here (a bad one is ignored with a note, never an error page).
        found["start_at"], t_note = steer_pages.start_time(t, found["item"].duration)
        steered = steer_pages.steered_similar(engine, item_id, ask) if ask.strip() else None
        status = 422 if steered and steered["error"] else 200
        return render(request, "item.html", csrf, status, t_note=t_note, ask=ask, steered=steered,
                      ask_max=steer_pages.MAX_ASK_CHARS, **found)

    @router.get("/ui/users")
    def users(request: Request, user: str = "") -> Response:
        csrf = gate(request)
        if isinstance(csrf, Response):
            return csrf
        if user.strip():
            return RedirectResponse(f"/ui/users/{quote(user.strip(), safe='')}", status_code=303)
        return render(request, "users.html", csrf, users=recent_users(engine.store))

    @router.get("/ui/users/{user_id:path}")
    def user(request: Request, user_id: str, ask: str = "", moments: str = "") -> Response:
        csrf = gate(request)
        if isinstance(csrf, Response):
            return csrf
        found = pages.user_page(engine, user_id)
        exists = found["exists"]
        steered = steer_pages.steered_recs(engine, user_id, ask) if exists and ask.strip() else None
        shown = steer_pages.moments(engine, user_id, bool(moments)) if exists else None
        status = 422 if steered and steered["error"] else 200
        return render(request, "user.html", csrf, status, ask=ask, steered=steered, moments=shown,
                      ask_max=steer_pages.MAX_ASK_CHARS, **found)

    @router.get("/ui/ingest")
    def ingest(request: Request) -> Response:
        csrf = gate(request)
        if isinstance(csrf, Response):
            return csrf
        return render(request, "ingest.html", csrf, **pages.ingest_page(engine))

    @router.get("/ui/eval")
    def evaluation(request: Request, report: str = "") -> Response:
        csrf = gate(request)
        if isinstance(csrf, Response):
            return csrf
        return render(request, "eval.html", csrf, **pages.eval_page(engine, report or None))

    # -- login -------------------------------------------------------------------------------
    @router.get("/ui/login")
    def login_form(request: Request, next: str = "/") -> Response:
        if not access.login_required:
            return RedirectResponse(safe_next(next), status_code=303)
        return render(request, "login.html", "", next=safe_next(next), failed=False)

    @router.post("/ui/login")
    async def login(request: Request) -> Response:
        if not access.login_required:
            return RedirectResponse("/", status_code=303)
        # Guessing is limited per client address (shared with the API's key checks): see AttemptLimiter.
        limiter = app.state.auth_limiter
        client = request.client.host if request.client else "unknown"
        wait = limiter.retry_after(client)
        if wait:
            refused = _plain(429, f"too many wrong keys from this address; try again in {wait} s")
            refused.headers["Retry-After"] = str(wait)
            return refused
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        key = (form.get("key") or [""])[0]
        target = safe_next((form.get("next") or ["/"])[0])
        if not keys_match(key, app.state.api_key):
            limiter.failed(client)
            return render(request, "login.html", "", status=401, next=target, failed=True)
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            COOKIE,
            access.open_session(),
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )
        return response

    @router.post("/ui/logout")
    def logout(request: Request) -> Response:
        access.close_session(request.cookies.get(COOKIE))
        response = RedirectResponse("/ui/login" if access.login_required else "/", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    # -- files -------------------------------------------------------------------------------
    @router.get("/ui/static/{name}")
    def static(name: str) -> Response:
        if name not in STATIC:
            raise HTTPException(404, f"no static file {name!r}")
        return FileResponse(
            HERE / "static" / name, media_type=STATIC[name], headers={"Cache-Control": "no-cache"}
        )

    @router.get("/ui/media/{item_id:path}")
    def media(request: Request, item_id: str) -> Response:
        """The item's own file, with HTTP range requests (206) so the player can seek."""
        gate_data(request)
        found = engine.store.get_item(item_id)
        path = pages.media_file(engine, found) if found else None
        if path is None:
            raise HTTPException(404, f"no media file for item {item_id!r}")
        headers = {"Cache-Control": "private, max-age=300"}
        return FileResponse(path, media_type=pages.media_type(path), headers=headers)

    @router.get("/ui/thumbs/{item_id:path}")
    def thumb(request: Request, item_id: str) -> Response:
        return _image(request, item_id, None)

    @router.get("/ui/keyframes/{index}/{item_id:path}")
    def keyframe(request: Request, index: int, item_id: str) -> Response:
        return _image(request, item_id, index)

    def _image(request: Request, item_id: str, index: int | None) -> Response:
        gate_data(request)
        path = pages.keyframe_file(engine, item_id, index)
        if path is None:
            raise HTTPException(404, f"no keyframe for item {item_id!r}")
        return FileResponse(path, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})

    @router.get("/ui/tune.svg")
    def tune_plot(request: Request) -> Response:
        gate_data(request)
        path = engine.home / "tune" / "tune.svg"
        if not path.is_file():
            raise HTTPException(404, "no tune plot: run `mediarec tune` first")
        return FileResponse(path, media_type="image/svg+xml")

    @router.get("/ui/reports/{name}/report.png")
    def report_plot(request: Request, name: str) -> Response:
        gate_data(request)
        root = pages.reports_dir(engine).resolve()
        path = (root / name / "report.png").resolve()
        if "/" in name or name.startswith(".") or not path.is_relative_to(root) or not path.is_file():
            raise HTTPException(404, f"no plot for report {name!r}")
        return FileResponse(path, media_type="image/png")

    # -- writes (JSON, from the page's script) -----------------------------------------------
    writer = app.state.writer

    @router.post("/ui/api/profile")
    async def edit_profile(request: Request, body: ProfileEdit) -> Response:
        gate_write(request)
        try:
            shown = await writer.execute(
                engine.edit_profile, body.user, body.text, body.add_tags, body.remove_tags
            )
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        return JSONResponse(shown.to_dict())

    @router.post("/ui/api/profile/regenerate")
    async def regenerate_profile(request: Request, body: UserRef) -> Response:
        gate_write(request)
        try:
            # The LLM runs outside the writer (it is slow); only storing the result is a write.
            draft = await asyncio.to_thread(engine.draft_profile, body.user)
        except Exception as exc:  # no LLM installed, no history: the page shows the reason
            raise HTTPException(503, f"could not generate a profile: {exc}") from None
        shown = await writer.execute(engine.save_profile, draft)
        return JSONResponse(shown.to_dict())

    @router.post("/ui/api/tune")
    def start_tune(request: Request) -> Response:
        gate_write(request)
        # The runner of POST /admin/tune (serve/admin_tune.py), with its defaults: 10 minutes.
        return JSONResponse(app.state.tuner.start(), status_code=202)

    @router.post("/ui/api/delete-user")
    async def delete_user(request: Request, body: UserRef) -> Response:
        gate_write(request)
        result = await writer.execute(engine.delete_user, body.user)
        return JSONResponse({"user_id": body.user, **result})

    return router


def _plain(status: int, message: str) -> Response:
    return Response(message + "\n", status_code=status, media_type="text/plain", headers=SECURITY_HEADERS)
