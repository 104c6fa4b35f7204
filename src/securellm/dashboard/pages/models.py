"""``/ui/models``: local models on each offload host; load, unload, pin, build mode, logs."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from securellm.core.errors import SecureLLMError
from securellm.dashboard.data import models as data
from securellm.dashboard.render import page, templates
from securellm.dashboard.session import Session, require_session
from securellm.gateway.state import gateway_state

REFRESH_S = 3


async def _page(
    request: Request, session: Session, *, status: int = 200, **context: object
) -> Response:
    hosts = await data.reports(gateway_state(request))
    return page(
        request,
        "models.html",
        session,
        active="models",
        status=status,
        hosts=hosts,
        refresh_s=REFRESH_S,
        **context,
    )


async def models_page(request: Request) -> Response:
    session = await require_session(request)
    done = request.query_params.get("done", "")[:200]
    return await _page(request, session, done=done)


async def models_fragment(request: Request) -> Response:
    session = await require_session(request)
    hosts = await data.reports(gateway_state(request))
    html = templates.get_template("models_hosts.html").render(session=session, hosts=hosts)
    return HTMLResponse(html)


async def model_action(request: Request) -> Response:
    session = await require_session(request)
    form = await request.form()
    try:
        host = data.find_host(gateway_state(request), str(form.get("host", "")))
        if "mode" in form:
            done = await data.set_mode(host, str(form.get("mode", "")))
        else:
            done = await data.act(host, str(form.get("model", "")), str(form.get("action", "")))
    except data.BadAction as exc:
        return await _page(request, session, status=400, failure=str(exc))
    except SecureLLMError as exc:
        return await _page(request, session, status=_status(exc), failure=str(exc))
    return RedirectResponse(f"/ui/models?{urlencode({'done': done})}", status_code=303)


def _status(exc: SecureLLMError) -> int:
    """The host's own refusal (404, 409) as it is; anything else is the host failing: 502."""
    return exc.status if exc.status in (400, 404, 409) else 502


async def model_log(request: Request) -> Response:
    session = await require_session(request)
    name, model = request.query_params.get("host", ""), request.query_params.get("model", "")
    try:
        host = data.find_host(gateway_state(request), name)
        text = await data.log_tail(host, model)
    except data.BadAction as exc:
        return await _page(request, session, status=400, failure=str(exc))
    except SecureLLMError as exc:
        return await _page(request, session, status=_status(exc), failure=str(exc))
    return page(
        request, "models_log.html", session, active="models", host=name, model=model, log=text
    )


routes = [
    Route("/models", models_page, methods=["GET"]),
    Route("/api/models", models_fragment, methods=["GET"]),
    Route("/models/action", model_action, methods=["POST"]),
    Route("/models/log", model_log, methods=["GET"]),
]
