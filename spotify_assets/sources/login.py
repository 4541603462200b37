"""``spotify-assets login``: the playlists owner's one-time consent, which gives the refresh token
the live source runs with.

It opens (or prints) Spotify's consent page, receives the redirect on
``http://127.0.0.1:<port>/callback``, trades the code for tokens and prints the refresh token and
where to put it. Nothing is written to disk.
"""

import argparse
import datetime as dt
import getpass
import html
import os
import secrets
import sys
import time
import webbrowser
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import requests
import spotipy
from dotenv import dotenv_values  # a dependency of dagster

from spotify_assets.sources.live import (
    ENV_ACCOUNTS_BASE_URL,
    ENV_API_BASE_URL,
    ENV_CLIENT_ID,
    ENV_CLIENT_SECRET,
    ENV_REFRESH_TOKEN,
)
from spotify_assets.sources.spotify_api import (
    DEFAULT_LOGIN_PORT,
    LOGIN_COMMAND,
    SCOPES,
    OwnerAuthorization,
    SpotifyRequestError,
    SpotifySession,
    api_base_url,
    redactor,
)

CALLBACK_PATH = "/callback"
REFRESH_TOKEN_LIFETIME = dt.timedelta(days=182)  # "6 months after the original consent"
TIMEOUT_SECONDS = 10.0


class LoginError(Exception):
    """The login did not give a refresh token; the message says why and what to do."""


def redirect_uri(port: int) -> str:
    return f"http://127.0.0.1:{port}{CALLBACK_PATH}"


class _CallbackServer(HTTPServer):
    """Waits on 127.0.0.1 for Spotify's redirect and keeps its code (or its error)."""

    def __init__(self, port: int, state: str):
        super().__init__(("127.0.0.1", port), _CallbackHandler)
        self.state = state
        self.code: str | None = None
        self.error: str | None = None

    def wait(self, timeout_seconds: float) -> str:
        deadline = time.monotonic() + timeout_seconds
        while self.code is None and self.error is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LoginError(
                    f"no answer from Spotify's consent page within {timeout_seconds:g} s; run "
                    f"`{LOGIN_COMMAND}` again"
                )
            self.timeout = remaining
            self.handle_request()
        if self.error:
            raise LoginError(self.error)
        return self.code


class _CallbackHandler(BaseHTTPRequestHandler):
    server: _CallbackServer
    timeout = 10  # a connection that sends nothing must not hold the login past its deadline

    def log_message(self, format, *args) -> None:  # the URL carries the code: keep it quiet
        pass

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path != CALLBACK_PATH:
            return self._reply(404, "Not the login callback.")
        answer = {key: values[0] for key, values in parse_qs(url.query).items()}
        if answer.get("state") != self.server.state:
            # Not Spotify's answer to this login (another tab, or anything on this machine):
            # refuse it and keep waiting, so it cannot end the login either.
            return self._reply(400, "This answer belongs to another login attempt.")
        if "error" in answer:
            self.server.error = (
                f"Spotify did not give consent ({answer['error']}); run `{LOGIN_COMMAND}` again "
                "and press Agree"
            )
            return self._reply(400, f"No consent: {answer['error']}.")
        if not answer.get("code"):
            self.server.error = "Spotify's redirect carried no code; try again"
            return self._reply(400, "No code in the redirect.")
        self.server.code = answer["code"]
        self._reply(200, "Logged in. You can close this tab and go back to the terminal.")

    def _reply(self, status: int, text: str) -> None:
        body = f"<!doctype html><title>spotify-assets login</title><p>{html.escape(text)}</p>"
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def login(
    client_id: str,
    client_secret: str,
    *,
    port: int = DEFAULT_LOGIN_PORT,
    accounts_url: str | None = None,
    api_url: str | None = None,
    open_browser: Callable[[str], bool] | None = webbrowser.open,
    timeout_seconds: float = 300.0,
    say: Callable[[str], None] = print,
) -> dict:
    """Runs the consent flow; returns the token answer (``refresh_token`` among it) and the
    user it belongs to under ``user``."""
    state = secrets.token_urlsafe(16)
    try:
        server = _CallbackServer(port, state)
    except OSError as error:
        raise LoginError(
            f"cannot listen on 127.0.0.1:{port} ({error.strerror}); pass --port with a free "
            "port, and register that redirect URI in the app's settings too"
        ) from None
    with server:
        callback = redirect_uri(server.server_port)
        session = SpotifySession(timeout_seconds=TIMEOUT_SECONDS)
        authorization = OwnerAuthorization(
            client_id,
            client_secret,
            redirect_uri=callback,
            state=state,
            accounts_url=accounts_url,
            session=session,
        )
        consent_url = authorization.get_authorize_url()
        say(
            f"Log in as the owner of the playlists and press Agree (scopes: {SCOPES}).\n"
            f"The app's settings must list this redirect URI exactly: {callback}\n"
        )
        opened = bool(open_browser and open_browser(consent_url))
        say("Opened in your browser; if nothing appeared, open:" if opened else "Open:")
        say(f"  {consent_url}\n\nWaiting for Spotify's redirect to {callback} ...")
        code = server.wait(timeout_seconds)
    try:
        authorization.get_access_token(code=code, as_dict=False, check_cache=False)
    except spotipy.SpotifyOauthError as error:
        raise LoginError(
            f"Spotify refused the code ({getattr(error, 'error', None) or error}): check "
            f"{ENV_CLIENT_ID} and {ENV_CLIENT_SECRET}, then run `{LOGIN_COMMAND}` again"
        ) from None
    except SpotifyRequestError as error:
        raise LoginError(
            f"{redactor.redact(str(error))}: check {ENV_ACCOUNTS_BASE_URL} and run "
            f"`{LOGIN_COMMAND}` again"
        ) from None
    except requests.RequestException as error:
        raise LoginError(
            f"could not reach Spotify's accounts service ({type(error).__name__})"
        ) from None
    token_info = dict(authorization.cache_handler.get_cached_token())
    client = spotipy.Spotify(
        auth_manager=authorization,
        requests_session=session,
        retries=0,
        status_retries=0,
    )
    client.prefix = f"{api_base_url(api_url)}/"
    try:
        token_info["user"] = client.me()
    except (spotipy.SpotifyException, requests.RequestException):
        token_info["user"] = None  # only used to say who logged in
    return token_info


def instructions(token_info: dict, today: dt.date) -> str:
    """What to do with the refresh token, for a person reading a terminal."""
    user = token_info.get("user") or {}
    who = f"{user.get('display_name') or user.get('id')} ({user.get('id')})" if user else "you"
    expires = today + REFRESH_TOKEN_LIFETIME
    return f"""
Logged in as {who}. The live source reads the playlists this account owns or collaborates on.

{ENV_REFRESH_TOKEN}={token_info["refresh_token"]}

Put that line, with {ENV_CLIENT_ID} and {ENV_CLIENT_SECRET}, where the runs read their
settings: the .env file next to pyproject.toml for `dagster dev`, or your deployment's secret
environment variables (Dagster+ environment variables, AWS Secrets Manager). Treat it like a
password: it reads your private playlists.

It expires 6 months after this consent, around {expires:%Y-%m-%d}; refreshing does not extend
it. When runs fail with "invalid_grant", run `{LOGIN_COMMAND}` again and replace it.
"""


def _setting(name: str, prompt: Callable[[str], str]) -> str:
    value = os.environ.get(name, "").strip() or _dotenv().get(name, "").strip()
    if value or not sys.stdin.isatty():
        return value  # no terminal to ask at: run() names what is missing
    return prompt(f"{name}: ").strip()


def _dotenv() -> dict[str, str]:
    """The ``.env`` of the current folder, which `dagster dev` reads too."""
    path = Path.cwd() / ".env"
    return {k: v or "" for k, v in dotenv_values(path).items()} if path.is_file() else {}


def run(args: argparse.Namespace) -> int:
    client_id = _setting(ENV_CLIENT_ID, input)
    client_secret = _setting(ENV_CLIENT_SECRET, getpass.getpass)
    if not client_id or not client_secret:
        print(
            f"{ENV_CLIENT_ID} and {ENV_CLIENT_SECRET} are needed: set them in the environment or "
            "in .env in this folder (your app's settings on developer.spotify.com show both)",
            file=sys.stderr,
        )
        return 2
    try:
        token_info = login(
            client_id,
            client_secret,
            port=args.port,
            accounts_url=os.environ.get(ENV_ACCOUNTS_BASE_URL),
            api_url=os.environ.get(ENV_API_BASE_URL),
            open_browser=None if args.no_browser else webbrowser.open,
            timeout_seconds=args.timeout,
        )
    except LoginError as error:
        print(f"Login failed: {error}", file=sys.stderr)
        return 1
    print(instructions(token_info, dt.date.today()))
    return 0


def register(subcommands) -> None:
    parser = subcommands.add_parser(
        "login",
        help="Log in once as the playlists' owner and print the refresh token for the live source.",
        description="Opens (or prints) Spotify's consent page, receives the redirect on "
        f"http://127.0.0.1:PORT{CALLBACK_PATH}, and prints the refresh token the live source "
        f"runs with. Reads {ENV_CLIENT_ID} and {ENV_CLIENT_SECRET} from the environment or "
        "./.env, and asks for them otherwise.",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_LOGIN_PORT,
        help=f"Port of the redirect URI http://127.0.0.1:PORT{CALLBACK_PATH} (default "
        f"{DEFAULT_LOGIN_PORT}); register the same URI in the app's settings.",
    )
    parser.add_argument(
        "--no-browser", action="store_true", help="Only print the consent URL, do not open it."
    )
    parser.add_argument(
        "--timeout", type=float, default=300.0, help="Seconds to wait for the consent."
    )
    parser.set_defaults(run=run)
