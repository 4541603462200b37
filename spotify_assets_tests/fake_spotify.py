"""A fake Spotify for tests: a real HTTP server on 127.0.0.1 that plays the accounts service
(``/authorize``, ``/api/token``) and the Web API endpoints the live source uses (``/v1/me``,
``/v1/playlists/{id}``, ``/v1/playlists/{id}/items``), from playlist documents in the shape the
replay source reads. It splits each document into the pages Spotify would serve, records every
request, and answers 429, 5xx, 403, 404, ``invalid_grant``, a redirect or HTML when a test asks it
to, whole, cut short, or a byte at a time."""

import contextlib
import json
import threading
import time
from base64 import b64decode
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal
from urllib.parse import parse_qs, urlencode, urlsplit

CLIENT_ID = "fake-client-id-0123456789"
# Distinctive strings, so a test can prove they appear nowhere a run writes.
CLIENT_SECRET = "CLIENT-SECRET-d41d8cd98f00b204"
REFRESH_TOKEN = "REFRESH-TOKEN-e9800998ecf8427e"
AUTHORIZATION_CODE = "AUTH-CODE-5d41402abc4b2a76"
ACCESS_TOKEN_PREFIX = "ACCESS-TOKEN-7d793037a0760186-"
OWNER = {"id": "fake_owner", "display_name": "Fake Owner"}

# How an answer is sent: at once; its headers, then a byte of the body at a time; a byte at a time
# from the status line on; or with only half of the body its Content-Length announces.
Delivery = Literal["whole", "drip body", "drip all", "cut short"]


@dataclass
class Request:
    """One request the fake received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    form: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        query = f"?{urlencode(self.query)}" if self.query else ""
        return f"{self.method} {self.path}{query}"


@dataclass
class ScriptedAnswer:
    method: str
    path: str
    status: int
    body: dict | str | None
    headers: dict[str, str]
    times: int
    delivery: Delivery


class FakeSpotify:
    """Start with ``with FakeSpotify() as spotify:``; point the live source at
    ``spotify.api_base_url`` and ``spotify.accounts_base_url``."""

    def __init__(self) -> None:
        self.playlists: dict[str, dict] = {}
        self.not_shared: set[str] = set()  # playlists whose entries this user may not read
        self.followed: list[dict] = []  # other users' playlists in GET /me/playlists
        self.requests: list[Request] = []
        self.revoked = False  # the refresh token answers invalid_grant
        self.delay_seconds = 0.0  # every answer waits this long (timeouts)
        self.drip_seconds = 0.25  # between two bytes of a dripped answer
        self.on_request: Callable[[Request], None] | None = None  # runs before each answer
        self.issued_access_tokens: list[str] = []
        self._scripted: list[ScriptedAnswer] = []
        self._lock = threading.Lock()
        self._stopped = threading.Event()  # ends the answers still dripping
        self._server: ThreadingHTTPServer | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> "FakeSpotify":
        handler = type("Handler", (_Handler,), {"spotify": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> "FakeSpotify":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def accounts_base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    @property
    def api_base_url(self) -> str:
        return f"{self.accounts_base_url}/v1"

    # -- what the test sets up ----------------------------------------------------------------

    def add_playlist(self, playlist: dict, *, shared: bool = True) -> None:
        """Serves ``playlist`` (every entry in its paging object) split into Spotify's pages."""
        with self._lock:
            self.playlists[playlist["id"]] = playlist
            if not shared:
                self.not_shared.add(playlist["id"])

    def answer(
        self,
        method: str,
        path: str,
        status: int,
        *,
        body: dict | str | None = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
        delivery: Delivery = "whole",
    ) -> None:
        """The next ``times`` requests to ``path`` get this answer instead: a dict is sent as
        JSON, a str as HTML (unless ``headers`` give another Content-Type)."""
        scripted = ScriptedAnswer(method, path, status, body, headers or {}, times, delivery)
        with self._lock:
            self._scripted.append(scripted)

    def rate_limit(self, path: str, retry_after: int, *, quota: bool = False, times: int = 1):
        error = {"status": 429, "message": "API rate limit exceeded"}
        if quota:
            error["reason"] = "QUOTA_EXCEEDED"
        self.answer(
            "GET",
            path,
            429,
            body={"error": error},
            headers={"Retry-After": str(retry_after)},
            times=times,
        )

    def log(self) -> list[str]:
        """Every request so far, as ``METHOD /path?query``."""
        with self._lock:
            return [str(request) for request in self.requests]

    # -- what the server does -----------------------------------------------------------------

    def _scripted_answer(self, method: str, path: str) -> ScriptedAnswer | None:
        with self._lock:
            for scripted in self._scripted:
                if scripted.method == method and scripted.path == path and scripted.times > 0:
                    scripted.times -= 1
                    return scripted
        return None

    def _token(self, request: Request) -> tuple[int, dict]:
        credentials = request.headers.get("authorization", "")
        expected = f"{CLIENT_ID}:{CLIENT_SECRET}"
        if not credentials.startswith("Basic ") or b64decode(credentials[6:]).decode() != expected:
            return 400, {"error": "invalid_client", "error_description": "Invalid client"}
        grant = request.form.get("grant_type")
        if grant == "refresh_token":
            if self.revoked or request.form.get("refresh_token") != REFRESH_TOKEN:
                return 400, {"error": "invalid_grant", "error_description": "Refresh token revoked"}
            return 200, self._issue(with_refresh_token=False)
        if grant == "authorization_code":
            if request.form.get("code") != AUTHORIZATION_CODE:
                return 400, {
                    "error": "invalid_grant",
                    "error_description": "Invalid authorization code",
                }
            return 200, self._issue(with_refresh_token=True)
        return 400, {"error": "unsupported_grant_type"}

    def _issue(self, *, with_refresh_token: bool) -> dict:
        with self._lock:
            token = f"{ACCESS_TOKEN_PREFIX}{len(self.issued_access_tokens)}"
            self.issued_access_tokens.append(token)
        answer = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": 3600,
            "scope": "playlist-read-private playlist-read-collaborative",
        }
        if with_refresh_token:
            answer["refresh_token"] = REFRESH_TOKEN
        return answer

    def _api(self, request: Request) -> tuple[int, dict]:
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        if bearer not in self.issued_access_tokens:
            return 401, {"error": {"status": 401, "message": "Invalid access token"}}
        parts = request.path.removeprefix("/v1/").rstrip("/").split("/")
        if parts == ["me"]:
            return 200, {**OWNER, "type": "user", "uri": f"spotify:user:{OWNER['id']}"}
        if parts == ["me", "playlists"]:
            return 200, self._own_playlists(request)
        if parts[0] != "playlists" or len(parts) not in (2, 3):
            return 404, {"error": {"status": 404, "message": "Service not found"}}
        playlist = self.playlists.get(parts[1])
        if playlist is None:
            return 404, {"error": {"status": 404, "message": "Resource not found"}}
        shape = "items" if "items" in playlist else "tracks"
        entries = playlist[shape]["items"]
        if len(parts) == 2:
            # The embedded first page, in the document's key order.
            first_page = self._page(parts[1], entries, 0, playlist[shape]["limit"], route=shape)
            answer = {
                key: {**value, **first_page} if key == shape else value
                for key, value in playlist.items()
                if key != shape or parts[1] not in self.not_shared
            }
            if "fields" in request.query:
                answer = {key: answer[key] for key in request.query["fields"].split(",")}
            return 200, answer
        if parts[2] != "items":
            return 403, {"error": {"status": 403, "message": "Forbidden"}}
        if parts[1] in self.not_shared:
            return 403, {"error": {"status": 403, "message": "Forbidden"}}
        limit = int(request.query.get("limit", 20))
        if not 1 <= limit <= 50:
            return 400, {"error": {"status": 400, "message": "Invalid limit"}}
        offset = int(request.query.get("offset", 0))
        href = f"{self.api_base_url}/playlists/{parts[1]}/items?offset={offset}&limit={limit}"
        return 200, {"href": href, **self._page(parts[1], entries, offset, limit, route="items")}

    def _own_playlists(self, request: Request) -> dict:
        """``GET /me/playlists``: the served playlists (owned by their ``owner``), then the
        followed ones, as simplified playlist objects, in pages."""
        summaries = [
            {key: playlist.get(key) for key in ("id", "name", "owner", "collaborative", "public")}
            for playlist in self.playlists.values()
        ] + self.followed
        limit = int(request.query.get("limit", 20))
        offset = int(request.query.get("offset", 0))
        following = offset + limit
        return {
            "href": f"{self.api_base_url}/me/playlists?offset={offset}&limit={limit}",
            "items": summaries[offset:following],
            "limit": limit,
            "next": (
                f"{self.api_base_url}/me/playlists?offset={following}&limit={limit}"
                if following < len(summaries)
                else None
            ),
            "offset": offset,
            "previous": None,
            "total": len(summaries),
        }

    def _page(self, playlist_id: str, entries: list, offset: int, limit: int, route: str) -> dict:
        following = offset + limit
        more = following < len(entries)
        return {
            "items": entries[offset:following],
            "limit": limit,
            "next": (
                f"{self.api_base_url}/playlists/{playlist_id}/{route}?"
                f"offset={following}&limit={limit}&additional_types=track,episode"
                if more
                else None
            ),
            "offset": offset,
            "previous": None,
            "total": len(entries),
        }


class _Handler(BaseHTTPRequestHandler):
    spotify: FakeSpotify

    def log_message(self, format, *args) -> None:  # the test output stays quiet
        pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, method: str) -> None:
        url = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        form = {key: values[0] for key, values in parse_qs(body.decode()).items()}
        request = Request(
            method=method,
            path=url.path,
            query={key: values[0] for key, values in parse_qs(url.query).items()},
            headers={key.lower(): value for key, value in self.headers.items()},
            form=form,
        )
        spotify = self.spotify
        with spotify._lock:
            spotify.requests.append(request)
        if spotify.on_request:
            spotify.on_request(request)
        if spotify.delay_seconds:
            time.sleep(spotify.delay_seconds)

        scripted = spotify._scripted_answer(method, url.path)
        if scripted:
            return self._send(
                scripted.status, scripted.body, scripted.headers, delivery=scripted.delivery
            )
        if method == "GET" and url.path == "/authorize":
            redirect = request.query["redirect_uri"]
            answer = {"code": AUTHORIZATION_CODE, "state": request.query.get("state", "")}
            return self._send(302, None, {"Location": f"{redirect}?{urlencode(answer)}"})
        if method == "POST" and url.path == "/api/token":
            return self._send(*spotify._token(request))
        if method == "GET" and url.path.startswith("/v1/"):
            return self._send(*spotify._api(request))
        return self._send(404, {"error": {"status": 404, "message": "Not found"}})

    def _send(
        self,
        status: int,
        body: dict | str | None,
        headers: dict | None = None,
        *,
        delivery: Delivery = "whole",
    ) -> None:
        fields = {}
        if isinstance(body, str):
            data = body.encode()
            fields["Content-Type"] = "text/html; charset=utf-8"
        elif body is not None:
            data = json.dumps(body).encode()
            fields["Content-Type"] = "application/json; charset=utf-8"
        else:
            data = b""
        fields.update(headers or {})
        fields["Content-Length"] = str(len(data))
        reason = self.responses.get(status, ("",))[0]
        head = f"{self.protocol_version} {status} {reason}\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in fields.items()) + "\r\n"
        answer = head.encode() + data
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client left
            if delivery == "whole":
                self.wfile.write(answer)
            elif delivery == "cut short":  # then the connection closes
                self.wfile.write(answer[: len(head) + len(data) // 2])
            else:
                at_once = len(head) if delivery == "drip body" else 0
                self.wfile.write(answer[:at_once])
                for offset in range(at_once, len(answer)):
                    if self.spotify._stopped.wait(self.spotify.drip_seconds):
                        return
                    self.wfile.write(answer[offset : offset + 1])
