"""`ratecard serve`: the workbench, a local web app over a folder of plans.

Pages: the plan list (check and scenario status), and one page per plan
(source editor with problems at their lines, price curves, the sample's
documents, revenue impact against the last git revision, scenarios).

What keeps it safe to leave running on a laptop:
- it binds to 127.0.0.1 unless told otherwise, and answers only to the host
  names of that address (a web page elsewhere cannot rebind a name to it);
- only plan files found in the served folder are reachable by name;
- every write is a POST that carries the page's token in a header (which a
  cross-site form cannot set) and, when the browser says where it comes
  from, an Origin of this very server; reading never writes;
- plan text and ledger values are escaped by Jinja2's autoescaping, and the
  Content-Security-Policy allows scripts from the server's own files only.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from interpreter.workbench import panels, review
from interpreter.workbench.workspace import Conflict, NotFound, Workspace

HERE = Path(__file__).resolve().parent
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
# Vega compiles the chart specifications (built here, from numbers and labels) with Function().
CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "frame-src 'self' about:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'"
)


def _templates() -> Jinja2Templates:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(HERE / "templates")), autoescape=True, trim_blocks=True, lstrip_blocks=True)
    return Jinja2Templates(env=env)


def create_app(workspace: Workspace, host: str = "127.0.0.1") -> Starlette:
    token = secrets.token_urlsafe(32)
    templates = _templates()

    def page(request: Request, template: str, **context) -> HTMLResponse:
        context.update(token=token, root=str(workspace.root), folder=workspace.root.name)
        return templates.TemplateResponse(request, template, context)

    def guard(request: Request) -> None:
        """A write (or any POST) must come from a page this server served."""
        sent = request.headers.get("x-workbench-token", "")
        if not secrets.compare_digest(sent.encode(), token.encode()):
            raise HTTPException(403, "missing or wrong workbench token: reload the page")
        origin = request.headers.get("origin")
        if origin is not None and origin != f"{request.url.scheme}://{request.headers.get('host', '')}":
            raise HTTPException(403, "request from another site refused")

    def plan_name(request: Request) -> str:
        name = request.path_params["name"]
        try:
            workspace.plan_path(name)
        except NotFound:
            raise HTTPException(404, f"no plan {name!r} in the served folder") from None
        return name

    async def home(request: Request):
        rows = await run_in_threadpool(_plan_rows, workspace)
        return page(request, "home.html.j2", plans=rows, usage=str(workspace.usage) if workspace.usage else None)

    async def plan_page(request: Request):
        name = plan_name(request)
        text = workspace.read(name)
        sample = request.query_params.get("sample")
        context = await run_in_threadpool(_results, workspace, name, text, sample)
        return page(
            request, "plan.html.j2", name=name, text=text, version=workspace.version(name), samples=workspace.samples(name), **context
        )

    async def preview(request: Request):
        guard(request)
        name = plan_name(request)
        form = await request.form()
        context = await run_in_threadpool(_results, workspace, name, str(form.get("text", "")), form.get("sample"))
        return page(request, "_results.html.j2", name=name, **context)

    async def save(request: Request):
        guard(request)
        name = plan_name(request)
        form = await request.form()
        try:
            version = workspace.save(name, str(form.get("text", "")), str(form.get("version", "")))
        except Conflict as conflict:
            return JSONResponse({"error": str(conflict)}, status_code=409)
        return JSONResponse({"version": version})

    async def plan_file(request: Request):
        name = plan_name(request)
        return JSONResponse({"version": workspace.version(name), "text": workspace.read(name)})

    async def scenarios_panel(request: Request, name: str, message: str | None = None, kind: str = ""):
        """The scenarios of a plan with their snapshot status, and a message about the last action."""
        states = await run_in_threadpool(review.states, workspace, name)
        return page(
            request,
            "_scenarios.html.j2",
            name=name,
            states=review.attention_first(states),
            message=message,
            message_kind=kind,
            folder=str(workspace.plan_path(name).with_suffix("") / "scenarios"),
        )

    async def scenarios(request: Request):
        return await scenarios_panel(request, plan_name(request))

    async def scenario_summary(request: Request):
        name = plan_name(request)
        states = await run_in_threadpool(review.states, workspace, name)
        return page(request, "_scenario_summary.html.j2", counts=review.counts(states), total=len(states))

    async def accept(request: Request):
        guard(request)
        name = plan_name(request)
        stem = request.query_params.get("scenario", "")
        try:
            accepted = await run_in_threadpool(review.accept, workspace, name, stem)
            message, kind = f"Snapshot of '{accepted.stem}' accepted.", "good"
        except NotFound:
            raise HTTPException(404, f"plan {name!r} has no scenario {stem!r}") from None
        except review.NotAccepted as refused:
            message, kind = str(refused), "bad"
        return await scenarios_panel(request, name, message, kind)

    async def problem(_request: Request, exc: HTTPException):
        return Response(exc.detail, status_code=exc.status_code, media_type="text/plain; charset=utf-8")

    routes = [
        Route("/", home, name="home"),
        Route("/plans/{name:path}", plan_page, name="plan_page"),
        Route("/preview/{name:path}", preview, methods=["POST"], name="preview"),
        Route("/save/{name:path}", save, methods=["POST"], name="save"),
        Route("/file/{name:path}", plan_file, name="plan_file"),
        Route("/scenarios/{name:path}", scenarios, name="scenarios"),
        Route("/scenario-summary/{name:path}", scenario_summary, name="scenario_summary"),
        Route("/accept/{name:path}", accept, methods=["POST"], name="accept"),
        Mount("/static", app=StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    hosts = ["*"] if host not in LOOPBACK else ["127.0.0.1", "localhost", "[::1]", "::1"]
    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: problem},  # type: ignore[dict-item]  # starlette types every handler as taking any Exception
        middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=hosts), Middleware(SecurityHeaders)],
    )
    app.state.token = token
    return app


class SecurityHeaders:
    """Adds the Content-Security-Policy and friends to every response."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def sending(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"content-security-policy", CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"x-frame-options", b"SAMEORIGIN"),
                ]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, sending)


def _plan_rows(workspace: Workspace) -> list[dict]:
    rows = []
    for name in workspace.plans():
        loaded, found = panels.check(name, workspace.read(name))
        plan = loaded.plan
        rows.append(
            {
                "name": name,
                "title": plan.name if plan else name,
                "id": plan.id if plan else None,
                "kind": plan.kind if plan else "—",
                "currency": plan.currency if plan else None,
                "charges": len(plan.charges) if plan else None,
                "errors": sum(p["severity"] == "error" for p in found),
                "warnings": sum(p["severity"] == "warning" for p in found),
            }
        )
    return rows


def _results(workspace: Workspace, name: str, text: str, sample_id) -> dict:
    """The problems, curves, documents and revenue impact of `text` as plan `name`."""
    loaded, found = panels.check(name, text)
    sample = workspace.sample(name, sample_id)
    context = {
        "problems": found,
        "errors": sum(p["severity"] == "error" for p in found),
        "warnings": sum(p["severity"] == "warning" for p in found),
        "title": loaded.plan.name if loaded.plan else name,
        "chosen": sample.id if sample else None,
    }
    if loaded.plan is None:
        return context
    rated = panels.rate_sample(loaded, sample, workspace.customers)
    context.update(
        charts=panels.charts(loaded), invoices=panels.invoices(rated), impact=panels.impact(workspace, name, loaded, sample, rated)
    )
    return context


def missing(path: str, usage: str | None, customers: str | None) -> str | None:
    """The first of the plans folder, ledger and customers file given that does not exist, said for `serve`."""
    for given, what in ((path, "PATH"), (usage, "--usage"), (customers, "--customers")):
        if given is not None and not Path(given).exists():
            return f"{what} {given}: no such file or folder"
    return None


def serve(path: str, usage: str | None, customers: str | None, host: str, port: int) -> None:
    import uvicorn

    app = create_app(Workspace.open(path, usage, customers), host)
    uvicorn.run(app, host=host, port=port, log_level="warning")
