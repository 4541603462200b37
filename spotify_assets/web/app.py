"""The web app: the dashboard page, its static files and the read API under ``/api``, in one
Starlette application. ``spotify-assets serve`` runs it with uvicorn; in AWS, Lambda runs the
same app through Mangum (:mod:`.lambda_handler`) and CloudFront serves the page from S3.

The routes (GET only; HEAD too):

=========================================== ===================================================
``/api/playlists``                          the dashboard's playlists: name, owner, total and
                                            link (serving ``playlists``), latest summary
``/api/playlists/{id}``                     one playlist, its views, its served snapshot and
                                            its row in serving ``playlists``
``/api/playlists/{id}/entries``             its current entries with song, album and artist
                                            names (``offset``, ``limit``)
``/api/playlists/{id}/views/{view}``        one dashboard view's rows for the playlist
                                            (``offset``, ``limit``)
``/api/songs/{id}``, ``/api/albums/{id}``,  one song (with album and artist), album, artist
``/api/artists/{id}``
``/api/albums/{id}/songs``,                 by index, a page at a time (``limit``, ``after``)
``/api/artists/{id}/songs``,
``/api/artists/{id}/albums``
=========================================== ===================================================

Errors are JSON, ``{"error": {"status": 404, "message": "..."}}``: 400 for a malformed id or
parameter (or, where the app is given its hosts, a request for another host), 404 for an unknown
id, view or route, 405 for another method, 503 when a store is overloaded, 500 otherwise (with
no detail: those go to the log).
"""

import logging
import re
from collections.abc import Callable, Iterable

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from spotify_assets.web.api import ApiError, ReadApi
from spotify_assets.web.page import (
    STATIC_DIR,
    content_security_policy,
    render_page,
    security_headers,
)
from spotify_assets.web.serving_reader import StoreUnavailableError

API_PREFIX = "/api/"
# A Host header: a name or an IPv4 address, or an IPv6 address in brackets; then maybe a port.
_HOST_HEADER = re.compile(r"(?P<host>\[[0-9A-Fa-f:.]+\]|[^\[\]:]+)(?::[0-9]{1,5})?")
logger = logging.getLogger(__name__)


class SecurityHeaders:
    """ASGI middleware: the same security headers on every response, errors included;
    ``app`` is the wrapped application."""

    def __init__(self, app, headers: dict[str, str]):
        self.app = app
        self.headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                names = {name for name, _ in message.get("headers", [])}
                extra = [(name, value) for name, value in self.headers if name not in names]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        return await self.app(scope, receive, send_with_headers)


class AllowedHosts:
    """ASGI middleware: a 400 for a request whose ``Host`` header names none of ``hosts``
    (names, IPv6 addresses in brackets; any port), or has none. A page of another site whose
    name its owner points at this machine's address (DNS rebinding) sends that name."""

    def __init__(self, app, hosts: Iterable[str]):
        self.app = app
        self.hosts = frozenset(host.lower() for host in hosts)

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            match = _HOST_HEADER.fullmatch(Headers(scope=scope).get("host", ""))
            if not match or match["host"].lower() not in self.hosts:
                message = f"this server answers requests for {', '.join(sorted(self.hosts))} only"
                return await error_response(400, message)(scope, receive, send)
        return await self.app(scope, receive, send)


def error_response(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(
        {"error": {"status": status, "message": message}},
        status_code=status,
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


def query_parameters(request: Request) -> dict[str, str]:
    parameters: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name in parameters:
            raise ApiError(400, f"query parameter {name} is given more than once")
        parameters[name] = value
    return parameters


def api_route(path: str, answer: Callable) -> Route:
    """A GET route whose answer is ``answer(**path parameters, parameters=query parameters)``,
    as JSON."""

    def endpoint(request: Request) -> Response:
        result = answer(**request.path_params, parameters=query_parameters(request))
        return JSONResponse(result, headers={"Cache-Control": "no-store"})

    return Route(path, endpoint, methods=["GET"])


def create_app(
    api: ReadApi, *, auth: dict | None = None, hosts: Iterable[str] | None = None
) -> SecurityHeaders:
    """The app over ``api``. ``auth`` is what the page needs to sign in where the API wants a
    token (``{"domain": "https://...", "client_id": "..."}``), None where it does not. ``hosts``
    are the only hosts it answers for (see :class:`AllowedHosts`); None answers any, for where
    the servers in front decide (API Gateway and CloudFront in AWS)."""
    policy = content_security_policy((auth["domain"],) if auth else ())
    page = render_page()

    def index(request: Request) -> Response:
        return HTMLResponse(page, headers={"Cache-Control": "no-cache"})

    def config(request: Request) -> Response:
        return JSONResponse({"auth": auth}, headers={"Cache-Control": "no-cache"})

    def unknown_api_route(request: Request) -> Response:
        raise ApiError(404, f"no API route {request.url.path}; the routes are under /api/")

    routes = [
        Route("/", index, methods=["GET"]),
        Route("/config.json", config, methods=["GET"]),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
        api_route("/api/playlists", api.playlists),
        api_route("/api/playlists/{playlist_id}", api.playlist),
        api_route("/api/playlists/{playlist_id}/entries", api.playlist_entries),
        api_route("/api/playlists/{playlist_id}/views/{view}", api.view),
        api_route("/api/songs/{song_id}", api.song),
        api_route("/api/albums/{album_id}", api.album),
        api_route("/api/albums/{album_id}/songs", api.album_songs),
        api_route("/api/artists/{artist_id}", api.artist),
        api_route("/api/artists/{artist_id}/songs", api.artist_songs),
        api_route("/api/artists/{artist_id}/albums", api.artist_albums),
        Route("/api/{rest:path}", unknown_api_route, methods=["GET"]),
    ]

    async def on_api_error(request: Request, error: ApiError) -> Response:
        return error_response(error.status, error.message)

    async def on_http_error(request: Request, error: HTTPException) -> Response:
        if request.url.path.startswith(API_PREFIX):
            return error_response(error.status_code, error.detail, error.headers)
        return Response(error.detail, status_code=error.status_code, headers=error.headers)

    async def on_store_unavailable(request: Request, error: StoreUnavailableError) -> Response:
        return error_response(503, str(error), {"Retry-After": "1"})

    async def on_unexpected_error(request: Request, error: Exception) -> Response:
        logger.exception("the request for %s failed", request.url.path)
        return error_response(500, "the server failed to answer; the log says why")

    app = Starlette(
        routes=routes,
        exception_handlers={
            ApiError: on_api_error,
            HTTPException: on_http_error,
            StoreUnavailableError: on_store_unavailable,
            Exception: on_unexpected_error,
        },
    )
    checked = app if hosts is None else AllowedHosts(app, hosts)
    # Outside Starlette's own error middleware, so that a 500 gets the headers too.
    return SecurityHeaders(checked, security_headers(policy))
