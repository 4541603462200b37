"""Reading a playlist from the Spotify Web API as its owner: plain Python around spotipy.

What the 2026 API allows (see ``shared/reference/spotify-api-2026.md``) decides the shape of this
module: Authorization Code with the owner's refresh token (only owners and collaborators get a
playlist's entries), pages of at most 50 entries, a daily quota that answers 429, and editorial
playlists that answer 404. Every request ends by a deadline however slowly the server answers,
no redirect is ever followed, no token is ever written to disk, nothing ever prompts, and no secret
reaches a log line or an exception message.
"""

import contextlib
import datetime as dt
import email.utils
import functools
import logging
import math
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import parse_qs, urlsplit

import requests
import spotipy
from requests.adapters import HTTPAdapter
from spotipy.cache_handler import MemoryCacheHandler
from spotipy.oauth2 import SpotifyOAuth, SpotifyOauthError

from spotify_assets.sources.base import Extraction, SourceError, StoredSnapshot
from spotify_assets.sources.spotify_settings import (  # noqa: F401 (imported from here too)
    DEFAULT_EXTRACTION_DEADLINE_SECONDS,
    WORST_CASE_EXTRACTION_SECONDS,
    parse_playlist_id,
    parse_playlist_ids,
)

DEFAULT_API_BASE_URL = "https://api.spotify.com/v1"
DEFAULT_ACCOUNTS_BASE_URL = "https://accounts.spotify.com"
SCOPES = "playlist-read-collaborative playlist-read-private"
LOGIN_COMMAND = "spotify-assets login"
DEFAULT_LOGIN_PORT = 8888
PAGE_LIMIT = 50  # the most /playlists/{id}/items returns per page
ITEM_TYPES = ("track", "episode")  # without episodes Spotify returns them malformed or null
EDITORIAL_PREFIX = "37i9dQZ"  # Spotify-owned editorial and algorithmic playlists
QUOTA_EXCEEDED = "QUOTA_EXCEEDED"
ENTRY_PAGE_KEYS = ("items", "tracks")  # the 2026 name of the paging object first, then the older

DEFAULT_TIMEOUT_SECONDS = 10.0  # to connect, and between two reads of an answer
DEFAULT_REQUEST_DEADLINE_SECONDS = 30.0  # one request in all, however slowly it is answered

T = TypeVar("T")


# ---------------------------------------------------------------------------------------------
# Configuration values


def api_base_url(url: str | None) -> str:
    """The Web API root with its version, without a trailing slash: a bare host gets ``/v1``."""
    url = (url or DEFAULT_API_BASE_URL).strip().rstrip("/")
    return url if urlsplit(url).path else f"{url}/v1"


def accounts_base_url(url: str | None) -> str:
    """The accounts service root (``/authorize`` and ``/api/token`` live under it)."""
    return (url or DEFAULT_ACCOUNTS_BASE_URL).strip().rstrip("/")


def latest_completed_week(now: dt.datetime) -> str:
    """The Monday starting the last week that ended before ``now`` (the schedule's week)."""
    this_monday = now.date() - dt.timedelta(days=now.weekday())
    return (this_monday - dt.timedelta(days=7)).isoformat()


def retry_after_seconds(value: str | None, now: dt.datetime) -> float | None:
    """A ``Retry-After`` header in seconds: delta-seconds or an HTTP date; None if absent."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - now).total_seconds())


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _human_duration(seconds: float) -> str:
    minutes = math.ceil(seconds / 60)
    if seconds < 90:
        return f"{seconds:g} s"
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


# ---------------------------------------------------------------------------------------------
# Secrets


class SecretRedactor(logging.Filter):
    """Replaces known secrets, and anything after ``Bearer``/``Basic`` or under a token key,
    in log records. spotipy logs request headers and token request bodies at DEBUG."""

    _PATTERNS = (
        re.compile(r"(?i)\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+"),
        re.compile(
            r"""(?i)(["']?(?:access_token|refresh_token|client_secret|code)["']?\s*[:=]\s*["']?)"""
            r"""[^"'\s,}&]+"""
        ),
    )

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()

    def add(self, secret: str | None) -> None:
        if secret and len(secret) >= 6:
            self._secrets.add(secret)

    def redact(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, "[redacted]")
        text = self._PATTERNS[0].sub(r"\1 [redacted]", text)
        return self._PATTERNS[1].sub(r"\1[redacted]", text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self.redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


redactor = SecretRedactor()
for _logger_name in ("spotipy.client", "spotipy.oauth2"):
    logging.getLogger(_logger_name).addFilter(redactor)


# ---------------------------------------------------------------------------------------------
# Bounded requests


class SpotifyRequestError(requests.RequestException):
    """A request to Spotify that ended without a usable answer. ``retryable`` says whether
    another attempt may get one; the message names the URL (without its query) and what
    happened."""

    retryable = False

    def __init__(self, url: str, problem: str):
        self.url = url.split("?")[0]
        self.problem = problem
        super().__init__(f"{self.url}: {problem}")


class AnswerTooSlow(SpotifyRequestError):
    """The request's own deadline passed before its answer was complete."""

    retryable = True


class AnswerCutShort(SpotifyRequestError):
    """The connection ended before the whole answer arrived."""

    retryable = True


class UnusableAnswer(SpotifyRequestError):
    """A redirect, or an answer that is not what Spotify sends (not JSON, no access token)."""


class OutOfTime(SpotifyRequestError):
    """The session's overall deadline passed before the answer was complete."""


_running_request = threading.local()  # the _ConnectionCutter of the request on this thread


class _ConnectionCutter:
    """Shuts the connection of the request running on this thread once ``seconds`` have passed,
    whatever it is waiting for (connecting, TLS, headers or a body sent a byte at a time): socket
    timeouts only bound the wait for the next byte, not the whole answer."""

    def __init__(self, seconds: float):
        self.fired = False
        self._handle: socket.socket | None = None
        self._released: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def __enter__(self) -> "_ConnectionCutter":
        _running_request.cutter = self
        self._timer.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._timer.cancel()
        self._timer.join()  # so no shutdown can reach a handle closed below
        _running_request.cutter = None
        for handle in self._released:
            handle.close()

    def release(self, handle: socket.socket) -> None:
        """Closes ``handle`` when the request ends, not before: http.client closes the
        connection of an HTTP/1.0 answer once its headers are in, and reads the body after."""
        self._released.append(handle)

    def watch(self, handle: socket.socket) -> None:
        with self._lock:
            self._handle = handle
            fired = self.fired
        if fired:
            _shut(handle)

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            handle = self._handle
        if handle is not None:
            _shut(handle)


def _running_cutter() -> _ConnectionCutter | None:
    return getattr(_running_request, "cutter", None)


def _shut(handle: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed
        handle.shutdown(socket.SHUT_RDWR)  # wakes the read blocked on it, in the other thread


class _CuttableConnection:
    """Mixed into urllib3's connection classes: the running request's cutter can shut it."""

    _cut_handle: socket.socket | None = None

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        # A duplicate of the socket, because TLS detaches the original (during its handshake
        # too), and shutting a duplicate down ends the connection all the same.
        self._cut_handle = sock.dup()
        self._watched()
        return sock

    def request(self, *args, **kwargs):
        self._watched()
        return super().request(*args, **kwargs)

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self._cut_handle is not None:
                cutter = _running_cutter()
                if cutter is None:
                    self._cut_handle.close()
                else:
                    cutter.release(self._cut_handle)
                self._cut_handle = None

    def _watched(self) -> None:
        cutter = _running_cutter()
        if cutter is not None and self._cut_handle is not None:
            cutter.watch(self._cut_handle)


@functools.cache
def _cuttable_pool(pool_class: type) -> type:
    if issubclass(pool_class.ConnectionCls, _CuttableConnection):
        return pool_class
    connection_class = pool_class.ConnectionCls
    cuttable = type(connection_class.__name__, (_CuttableConnection, connection_class), {})
    return type(pool_class.__name__, (pool_class,), {"ConnectionCls": cuttable})


def _make_cuttable(manager) -> None:
    manager.pool_classes_by_scheme = {
        scheme: _cuttable_pool(pool_class)
        for scheme, pool_class in manager.pool_classes_by_scheme.items()
    }


class _CuttableAdapter(HTTPAdapter):
    """requests' adapter (which retries nothing), opening only connections a cutter can shut."""

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        _make_cuttable(self.poolmanager)

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        _make_cuttable(manager)
        return manager


class SpotifySession(requests.Session):
    """The requests session of the token and Web API requests, with bounded and locked-down
    edges: every request ends within ``request_deadline_seconds`` (and by ``ends_at``, the
    overall deadline of an extraction) however the server behaves, it never follows a redirect
    (nothing is sent to the redirect target, no credentials or body above all), its answer is
    read whole or not at all, and a 2xx answer must be JSON. Its own timeouts replace the
    caller's (spotipy's ``requests_timeout``). Every failure is a ``requests.RequestException``:
    a :class:`SpotifyRequestError` for those above, otherwise requests' own ``Timeout`` (no byte
    for ``timeout_seconds``) and ``ConnectionError``. ``clock`` is a monotonic clock in seconds,
    injectable for tests."""

    def __init__(
        self,
        *,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        request_deadline_seconds: float = DEFAULT_REQUEST_DEADLINE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ):
        super().__init__()
        self.timeout_seconds = timeout_seconds
        self.request_deadline_seconds = request_deadline_seconds
        self.ends_at: float | None = None  # on ``clock``; None: no overall deadline
        self._clock = clock
        for prefix in ("https://", "http://"):
            self.mount(prefix, _CuttableAdapter())

    def end_within(self, seconds: float) -> None:
        """Every request from now on ends at the latest ``seconds`` from now."""
        self.ends_at = self._clock() + seconds

    def seconds_left(self) -> float:
        return math.inf if self.ends_at is None else self.ends_at - self._clock()

    def request(self, method, url, **kwargs) -> requests.Response:
        seconds_left = self.seconds_left()
        if seconds_left <= 0:
            raise OutOfTime(url, "not sent, the deadline has passed")
        limit = min(self.request_deadline_seconds, seconds_left)
        kwargs.update(allow_redirects=False, stream=False, timeout=min(self.timeout_seconds, limit))
        started = self._clock()
        try:
            with _ConnectionCutter(limit) as cutter:
                response = super().request(method, url, **kwargs)
        except Exception as error:  # whatever the cut made the reading code raise
            if cutter.fired or self._clock() - started >= limit:
                if limit < self.request_deadline_seconds:
                    raise OutOfTime(url, "still unanswered at the deadline") from None
                raise AnswerTooSlow(url, f"no complete answer within {limit:g} s") from None
            if isinstance(error, requests.exceptions.ChunkedEncodingError):
                raise AnswerCutShort(url, "answer cut short") from None
            raise
        _refuse_unusable(response)
        return response


def _refuse_unusable(response: requests.Response) -> None:
    status = response.status_code
    if 300 <= status < 400:
        target = (response.headers.get("Location") or "nowhere").split("?")[0]
        raise UnusableAnswer(
            response.url,
            f"answered {status} with a redirect to {target}, which is never followed (nothing "
            "was sent there)",
        )
    if 200 <= status < 300:
        try:
            response.json()
        except ValueError:
            media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
            what = (media_type or "no content type") if response.content else "an empty body"
            raise UnusableAnswer(response.url, f"answered {status} with {what}, not JSON") from None


# ---------------------------------------------------------------------------------------------
# Authorization


class TokenRequestError(SpotifyOauthError):
    """The accounts service refused a token request; keeps the status and the headers."""

    def __init__(self, status: int, error: str | None, description: str | None, headers):
        super().__init__(f"token request failed: {status} {error}", error, description)
        self.status = status
        self.headers = headers


class OwnerAuthorization(SpotifyOAuth):
    """spotipy's Authorization Code manager, made safe for unattended runs: tokens live in memory
    only (no ``.cache`` file), the accounts host is configurable, every request goes through a
    :class:`SpotifySession` (bounded, no redirects), an answer without an access token is refused,
    and it raises instead of prompting when it has no usable token."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        refresh_token: str | None = None,
        redirect_uri: str = f"http://127.0.0.1:{DEFAULT_LOGIN_PORT}/callback",
        state: str | None = None,
        accounts_url: str | None = None,
        session: SpotifySession | None = None,
    ):
        for secret in (client_secret, refresh_token):
            redactor.add(secret)
        cached = None
        if refresh_token:
            # Expired on purpose: the first request refreshes it, without a prompt.
            cached = {"access_token": "", "refresh_token": refresh_token, "expires_at": 0}
            cached["scope"] = SCOPES
        super().__init__(
            client_id=client_id,
            client_secret=client_secret,
            redirect_uri=redirect_uri,
            state=state,
            scope=SCOPES,
            requests_session=session or SpotifySession(),
            open_browser=False,
            cache_handler=MemoryCacheHandler(token_info=cached),
        )
        redactor.add(self._make_authorization_headers()["Authorization"].split()[-1])
        base = accounts_base_url(accounts_url)
        self.OAUTH_AUTHORIZE_URL = f"{base}/authorize"
        self.OAUTH_TOKEN_URL = f"{base}/api/token"

    def get_auth_response(self, open_browser=None):
        raise SourceError(
            "no usable Spotify token, and a run never prompts for one: set SPOTIFY_REFRESH_TOKEN "
            f"(run `{LOGIN_COMMAND}` once to get it)"
        )

    def get_access_token(self, code=None, as_dict=True, check_cache=True):
        token = super().get_access_token(code=code, as_dict=as_dict, check_cache=check_cache)
        self._remember_secrets(token)
        return token

    def refresh_access_token(self, refresh_token):
        token_info = super().refresh_access_token(refresh_token)
        self._remember_secrets(token_info)
        return token_info

    def forget_access_token(self) -> None:
        """Makes the next request refresh the access token."""
        token_info = self.cache_handler.get_cached_token()
        if token_info:
            token_info["expires_at"] = 0

    def _add_custom_values_to_token_info(self, token_info):
        if not (
            isinstance(token_info, dict)
            and isinstance(token_info.get("access_token"), str)
            and isinstance(token_info.get("expires_in"), int | float)
        ):
            raise UnusableAnswer(
                self.OAUTH_TOKEN_URL, "answered without an access token and its lifetime"
            )
        return super()._add_custom_values_to_token_info(token_info)

    @staticmethod
    def _remember_secrets(token) -> None:
        if isinstance(token, dict):
            redactor.add(token.get("access_token"))
            redactor.add(token.get("refresh_token"))
        elif isinstance(token, str):
            redactor.add(token)

    def _handle_oauth_error(self, http_error):
        response = http_error.response
        try:
            payload = response.json()
            error, description = payload.get("error"), payload.get("error_description")
        except ValueError:
            error, description = None, None
        raise TokenRequestError(response.status_code, error, description, response.headers)


# ---------------------------------------------------------------------------------------------
# Reading a playlist


@dataclass(frozen=True)
class RetryPolicy:
    """How long the source waits for Spotify before it gives up on a partition."""

    max_retry_after_seconds: float = 60.0  # a longer Retry-After fails at once
    max_rate_limit_retries: int = 3
    max_server_error_retries: int = 4  # 5xx, timeouts and refused connections
    backoff_seconds: float = 1.0  # doubles on every retry
    max_backoff_seconds: float = 30.0

    def backoff(self, retry: int) -> float:
        return min(self.backoff_seconds * 2 ** (retry - 1), self.max_backoff_seconds)

    def longest_request_seconds(self, request_deadline_seconds: float) -> float:
        """The longest one request can take with every retry and wait this policy allows: each
        attempt may need a token request first, and a 401 costs one attempt more. A 429 wait is
        at most ``max_retry_after_seconds`` (a longer one fails at once)."""
        attempts = 1 + self.max_rate_limit_retries + self.max_server_error_retries + 1
        waits = self.max_rate_limit_retries * self.max_retry_after_seconds + sum(
            self.backoff(retry) for retry in range(1, self.max_server_error_retries + 1)
        )
        return attempts * 2 * request_deadline_seconds + waits


class _Refused(Exception):
    """Spotify answered a request with a 4xx that retrying will not fix."""

    def __init__(self, status: int, spotify_message: str):
        super().__init__(status, spotify_message)
        self.status = status
        self.spotify_message = spotify_message


class _ChangedWhileRead(Exception):
    """The playlist changed between two of the requests that read it."""


def entries_page_key(playlist: dict) -> str | None:
    """Where a playlist object keeps its entries: ``items`` (2026) or ``tracks`` (older)."""
    for key in ENTRY_PAGE_KEYS:
        if isinstance(playlist.get(key), dict):
            return key
    return None


def further_page_count(total: int, embedded: int) -> int:
    """The ``/items`` requests needed after ``GET /playlists/{id}`` embedded ``embedded``."""
    return math.ceil(max(0, total - embedded) / PAGE_LIMIT)


class SpotifyPlaylistReader:
    """Reads playlists through one spotipy client, as the owner of the refresh token.

    Every request, the token request included, waits at most ``timeout_seconds`` (10 s) for each
    next byte and ``request_deadline_seconds`` (30 s) in all, then counts as a server error
    (retried, see :class:`RetryPolicy`). A whole read ends within
    ``extraction_deadline_seconds`` (15 min), waits included, or fails: that is one request's
    whole retry budget (735 s with the defaults: 9 attempts of a token and an API request at
    30 s each, three 60 s Retry-After waits, 1 + 2 + 4 + 8 s of backoff) and about three minutes
    for the other requests. ``WORST_CASE_EXTRACTION_SECONDS`` is what a run timeout allows it.

    ``sleep``, ``now`` and ``monotonic`` are injectable so waits can be tested without waiting.
    Every wait is logged on ``logger``. ``request_count`` counts Web API responses,
    ``token_request_count`` those of the accounts service.
    """

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        api_url: str | None = None,
        accounts_url: str | None = None,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        request_deadline_seconds: float = DEFAULT_REQUEST_DEADLINE_SECONDS,
        extraction_deadline_seconds: float = DEFAULT_EXTRACTION_DEADLINE_SECONDS,
        accept_language: str = "en",
        retry_policy: RetryPolicy = RetryPolicy(),
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], dt.datetime] = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
        logger: logging.Logger | None = None,
    ):
        self.api_url = api_base_url(api_url)
        self.retry_policy = retry_policy
        self.extraction_deadline_seconds = extraction_deadline_seconds
        self._sleep = sleep
        self._now = now
        self._logger = logger or logging.getLogger(__name__)
        self.request_count = 0
        self.token_request_count = 0
        # A session of our own: its adapter retries nothing, so every 429 and 5xx reaches the
        # policy below instead of urllib3 sleeping up to hours inside spotipy.
        self._session = SpotifySession(
            timeout_seconds=timeout_seconds,
            request_deadline_seconds=request_deadline_seconds,
            clock=monotonic,
        )
        self._session.hooks["response"].append(self._count_response)
        self._auth = OwnerAuthorization(
            client_id,
            client_secret,
            refresh_token=refresh_token,
            accounts_url=accounts_url,
            session=self._session,
        )
        self.client = spotipy.Spotify(
            auth_manager=self._auth,
            requests_session=self._session,
            retries=0,
            status_retries=0,
            language=accept_language,
        )
        self.client.prefix = f"{self.api_url}/"

    def _count_response(self, response: requests.Response, *args, **kwargs) -> None:
        if response.url.split("?")[0] == self._auth.OAUTH_TOKEN_URL:
            self.token_request_count += 1
        else:
            self.request_count += 1

    # -- the extraction ---------------------------------------------------------------------

    def read(
        self, playlist_id: str, week: str, latest_stored: StoredSnapshot | None = None
    ) -> Extraction:
        """The playlist as it is now, every entry merged into its paging object.

        When its ``snapshot_id`` equals ``latest_stored``'s, the stored entries are reused and
        the read costs one request. A playlist edited while it is paged is read once more. Every
        failure is a SourceError naming the playlist, the week and the cause, without secrets.
        """
        where = f"playlist {playlist_id!r}, week {week}"
        self._refuse_past_week(week, where)
        self._session.end_within(self.extraction_deadline_seconds)
        try:
            for attempt in (1, 2):
                try:
                    return self._read_once(playlist_id, latest_stored, where)
                except _ChangedWhileRead as change:
                    if attempt == 2:
                        raise SourceError(
                            f"{where}: the playlist changed while it was being read, twice in a "
                            f"row ({change}); it is being edited right now: retry the partition "
                            "later",
                            transient=True,
                        ) from None
                    self._logger.warning(f"{where}: {change}; reading it once more")
        except Exception as error:
            if isinstance(error, SourceError):
                message = str(error)
            else:
                message = (
                    f"{where}: reading it failed unexpectedly ({type(error).__name__}: {error})"
                )
            transient = isinstance(error, SourceError) and error.transient
            raise SourceError(redactor.redact(message), transient=transient) from None

    def own_playlist_ids(self, deadline_seconds: float = 40.0) -> list[str]:
        """The playlists whose entries this owner can read: those of ``GET /me/playlists`` (owned
        or followed, pages of 50) that the owner owns or that are collaborative. A few requests,
        within ``deadline_seconds``; failures are SourceErrors, without secrets."""
        where = "listing the owner's playlists"
        self._session.end_within(deadline_seconds)

        def refused(status: int, said: str) -> SourceError:
            return SourceError(f"{where}: Spotify refused it (HTTP {status}: {said})")

        try:
            owner = self._call(lambda: self.client.me(), where, refusal=refused)
            page = self._call(
                lambda: self.client.current_user_playlists(limit=50), where, refusal=refused
            )
            readable: list[str] = []
            while page:
                for playlist in page.get("items") or []:
                    if not isinstance(playlist, dict) or not playlist.get("id"):
                        continue
                    owned = (playlist.get("owner") or {}).get("id") == owner.get("id")
                    if owned or playlist.get("collaborative"):
                        readable.append(playlist["id"])
                if not page.get("next"):
                    break
                page = self._call(
                    lambda previous=page: self.client.next(previous), where, refusal=refused
                )
            return list(dict.fromkeys(readable))
        except Exception as error:
            transient = isinstance(error, SourceError) and error.transient
            if not isinstance(error, SourceError):
                error = f"{where}: failed unexpectedly ({type(error).__name__}: {error})"
            raise SourceError(redactor.redact(str(error)), transient=transient) from None

    def _read_once(
        self, playlist_id: str, latest_stored: StoredSnapshot | None, where: str
    ) -> Extraction:
        playlist = self._call(
            lambda: self.client.playlist(playlist_id, additional_types=ITEM_TYPES),
            where,
            refusal=lambda status, said: self._playlist_refused(playlist_id, status, said, where),
        )
        if not isinstance(playlist, dict) or playlist.get("id") != playlist_id:
            raise SourceError(f"{where}: Spotify answered with something else than this playlist")
        page_key = entries_page_key(playlist)
        if page_key is None:
            raise SourceError(
                f"{where}: {self._not_owner(playlist, 'returned none of the entries')}"
            )
        first_page = playlist[page_key]
        entries = first_page.get("items")
        total = first_page.get("total")
        if not isinstance(entries, list) or not isinstance(total, int):
            raise SourceError(f"{where}: the playlist's {page_key!r} is not a paging object")
        snapshot_id = playlist.get("snapshot_id")

        if latest_stored is not None and snapshot_id and latest_stored.snapshot_id == snapshot_id:
            stored_entries = self._stored_entries(latest_stored, playlist_id, total, where)
            if stored_entries is not None:
                saved = further_page_count(total, len(entries))
                return self._extraction(
                    playlist,
                    page_key,
                    stored_entries,
                    unchanged=True,
                    requests_saved=saved + (1 if saved else 0),
                    reused_week=latest_stored.week,
                )

        entries = list(entries)
        next_url = first_page.get("next")
        paged = bool(next_url)
        while next_url:
            offset = self._next_offset(next_url, playlist_id, len(entries), where)
            page = self._call(
                lambda offset=offset: self.client.playlist_items(
                    playlist_id, limit=PAGE_LIMIT, offset=offset, additional_types=ITEM_TYPES
                ),
                where,
                refusal=lambda status, said: self._items_refused(playlist, status, said, where),
            )
            if not isinstance(page, dict) or not isinstance(page.get("items"), list):
                raise SourceError(f"{where}: a page of entries at offset {offset} is malformed")
            if page.get("total") != total:
                raise _ChangedWhileRead(f"its total went from {total} to {page.get('total')}")
            if not page["items"] and page.get("next"):
                raise SourceError(f"{where}: an empty page at offset {offset} points further")
            entries.extend(page["items"])
            next_url = page.get("next")
        if len(entries) != total:
            raise _ChangedWhileRead(f"{len(entries)} entries read, but total says {total}")
        if paged:
            # Offsets shift under an edit without changing the count: only the version tells.
            version = self._call(
                lambda: self.client.playlist(
                    playlist_id, fields="snapshot_id", additional_types=ITEM_TYPES
                ),
                where,
                refusal=lambda status, said: self._playlist_refused(
                    playlist_id, status, said, where
                ),
            )
            now_snapshot = version.get("snapshot_id") if isinstance(version, dict) else None
            if now_snapshot != snapshot_id:
                raise _ChangedWhileRead(f"snapshot {snapshot_id} became {now_snapshot}")
        return self._extraction(playlist, page_key, entries)

    def _extraction(
        self,
        playlist: dict,
        page_key: str,
        entries: list,
        *,
        unchanged: bool = False,
        requests_saved: int = 0,
        reused_week: str | None = None,
    ) -> Extraction:
        merged = {**playlist, page_key: {**playlist[page_key], "items": entries, "next": None}}
        metadata = {
            "unchanged": unchanged,
            "requests_saved": requests_saved,
            "token_requests": self.token_request_count,
        }
        if reused_week:
            metadata["entries_reused_from_week"] = reused_week
        return Extraction(
            playlist=merged,
            source=f"{self.api_url}/playlists/{playlist['id']}",
            request_count=self.request_count,
            metadata=metadata,
        )

    def _stored_entries(
        self, stored: StoredSnapshot, playlist_id: str, total: int, where: str
    ) -> list | None:
        """The entries of the stored snapshot, or None (and a warning) if they cannot be used."""
        try:
            document = stored.load()
        except Exception as error:  # a missing or unreadable file only costs the pages
            self._logger.warning(
                f"{where}: unchanged since week {stored.week}, but its stored snapshot could not "
                f"be read ({type(error).__name__}); reading every page instead"
            )
            return None
        key = entries_page_key(document) if isinstance(document, dict) else None
        entries = document[key].get("items") if key else None
        if (
            document.get("id") != playlist_id
            or document.get("snapshot_id") != stored.snapshot_id
            or not isinstance(entries, list)
            or len(entries) != total
        ):
            self._logger.warning(
                f"{where}: the stored snapshot of week {stored.week} is not the playlist "
                "Spotify describes; reading every page instead"
            )
            return None
        return entries

    def _next_offset(self, next_url: str, playlist_id: str, collected: int, where: str) -> int:
        """The offset ``next`` asks for. The page is then requested from ``/items`` on the
        configured host, so the token never goes anywhere else and limit and types stay ours."""
        url = urlsplit(next_url)
        offsets = parse_qs(url.query).get("offset", [])
        if not re.search(rf"/playlists/{playlist_id}/(items|tracks)$", url.path) or not offsets:
            raise SourceError(f"{where}: Spotify's next page link is not one of this playlist")
        if offsets[0] != str(collected):
            raise _ChangedWhileRead(f"the next page starts at {offsets[0]}, not {collected}")
        return collected

    # -- waiting and failing ------------------------------------------------------------------

    def _refuse_past_week(self, week: str, where: str) -> None:
        latest = latest_completed_week(self._now())
        if week < latest:
            raise SourceError(
                f"{where}: the live source reads a playlist as it is now, and Spotify cannot "
                f"return the past: week {week} is older than the latest completed week {latest}. "
                "Re-materialize the assets downstream of raw/playlist_json for that week from "
                "the stored raw snapshot instead (or replay a recording of it)"
            )

    def _call(
        self, request: Callable[[], T], where: str, refusal: Callable[[int, str], SourceError]
    ) -> T:
        """One request, with the waits the policy allows between attempts."""
        policy = self.retry_policy
        rate_limited = failed = 0
        refreshed = False
        while True:
            try:
                return request()
            except spotipy.SpotifyException as error:
                status, headers = error.http_status, error.headers or {}
                said = _spotify_message(error.msg)
                reason = error.reason or ""
            except TokenRequestError as error:
                status, headers = error.status, error.headers or {}
                said, reason = error.error_description or "", error.error or ""
                if status != 429 and status < 500:
                    raise self._token_refused(error, where) from None
            except OutOfTime as error:
                raise self._out_of_time(where, str(error)) from None
            except SpotifyRequestError as error:
                if not error.retryable:
                    raise SourceError(
                        f"{where}: {error}: {self._check_setting(error.url)}"
                    ) from None
                status, headers, said, reason = None, {}, error.problem, ""
            except requests.Timeout:
                status, headers, said, reason = None, {}, "no answer in time", "timeout"
            except requests.ConnectionError:
                status, headers, said, reason = None, {}, "connection failed", "connection"

            if status == 429:
                rate_limited += 1
                wait = self._rate_limit_wait(headers, reason, said, rate_limited, where)
                why = f"rate-limited by Spotify (429), Retry-After {wait:g} s"
                attempt = f"retry {rate_limited} of {policy.max_rate_limit_retries}"
            elif status is None or status >= 500:
                failed += 1
                if failed > policy.max_server_error_retries:
                    problem = f"HTTP {status}" if status else said
                    raise SourceError(
                        f"{where}: Spotify kept failing ({problem}) after "
                        f"{policy.max_server_error_retries} retries; retry the partition later",
                        transient=True,
                    )
                wait = policy.backoff(failed)
                why = f"Spotify answered {status}" if status else f"Spotify: {said}"
                attempt = f"retry {failed} of {policy.max_server_error_retries}"
            elif status == 401 and not refreshed:
                refreshed = True  # the access token expired early or was revoked: refresh once
                self._auth.forget_access_token()
                continue
            else:
                raise refusal(status, said)
            if wait >= self._session.seconds_left():
                cause = f"{why}, and the {wait:g} s wait before {attempt} would pass it"
                raise self._out_of_time(where, cause)
            self._logger.warning(f"{where}: {why}; waiting {wait:g} s before {attempt}")
            self._sleep(wait)

    def _out_of_time(self, where: str, cause: str) -> SourceError:
        return SourceError(
            f"{where}: the extraction reached its "
            f"{_human_duration(self.extraction_deadline_seconds)} deadline ({cause}); retry the "
            "partition later",
            transient=True,
        )

    def _check_setting(self, url: str) -> str:
        setting = (
            "SPOTIFY_ACCOUNTS_BASE_URL"
            if url == self._auth.OAUTH_TOKEN_URL
            else "SPOTIFY_API_BASE_URL"
        )
        return (
            f"check {setting}: only Spotify itself may answer there, not a proxy, a captive "
            "portal or a redirect"
        )

    def _rate_limit_wait(
        self, headers, reason: str, said: str, rate_limited: int, where: str
    ) -> float:
        policy = self.retry_policy
        now = self._now()
        retry_after = retry_after_seconds(headers.get("Retry-After"), now)
        if reason == QUOTA_EXCEEDED or QUOTA_EXCEEDED in said:
            wait = retry_after if retry_after is not None else 24 * 3600.0
            raise SourceError(
                f"{where}: the Spotify app's request quota is used up (429 {QUOTA_EXCEEDED}); "
                f"retry after {_when(now, wait)}"
            )
        wait = retry_after if retry_after is not None else policy.backoff(rate_limited)
        if wait > policy.max_retry_after_seconds:
            raise SourceError(
                f"{where}: Spotify asks to wait {_human_duration(wait)} (429 Retry-After), longer "
                f"than the {policy.max_retry_after_seconds:g} s a run waits; retry after "
                f"{_when(now, wait)}"
            )
        if rate_limited > policy.max_rate_limit_retries:
            raise SourceError(
                f"{where}: still rate-limited by Spotify (429) after "
                f"{policy.max_rate_limit_retries} waits; retry after {_when(now, wait)}",
                transient=True,
            )
        return wait

    @staticmethod
    def _token_refused(error: TokenRequestError, where: str) -> SourceError:
        if error.error == "invalid_grant":
            return SourceError(
                f"{where}: Spotify refused SPOTIFY_REFRESH_TOKEN (invalid_grant: "
                f"{error.error_description or 'expired or revoked'}). Refresh tokens expire 6 "
                "months after the owner's consent, and revoking the app's access ends them "
                f"sooner: run `{LOGIN_COMMAND}` again as the playlists' owner and replace "
                "SPOTIFY_REFRESH_TOKEN with the token it prints"
            )
        if error.error in ("invalid_client", "unauthorized_client"):
            return SourceError(
                f"{where}: Spotify refused SPOTIFY_CLIENT_ID / SPOTIFY_CLIENT_SECRET "
                f"({error.error}): copy both again from the app's settings on "
                "developer.spotify.com/dashboard"
            )
        return SourceError(
            f"{where}: Spotify's accounts service refused the token request "
            f"({error.status} {error.error or ''}: {error.error_description or 'no description'})"
        )

    @staticmethod
    def _playlist_refused(playlist_id: str, status: int, said: str, where: str) -> SourceError:
        spotify_said = f' (Spotify: "{said}")' if said else ""
        if status == 404 and playlist_id.startswith(EDITORIAL_PREFIX):
            return SourceError(
                f"{where}: Spotify answers 404 for its own editorial and algorithmic playlists "
                f"(ids starting {EDITORIAL_PREFIX}) to apps created after 2024-11-27. Copy it "
                "into a playlist you own (Add to other playlist) and list the copy in "
                "SPOTIFY_PLAYLISTS"
            )
        if status == 404:
            return SourceError(
                f"{where}: Spotify has no such playlist (404){spotify_said}: check its id in "
                "SPOTIFY_PLAYLISTS; it may have been deleted"
            )
        if status == 403:
            return SourceError(
                f"{where}: Spotify refuses this playlist to the app (403){spotify_said}. In "
                "Development Mode the app's owner needs Premium, and every other user must be "
                "added under User Management in the app's dashboard"
            )
        if status == 401:
            return SourceError(
                f"{where}: Spotify refused the access token (401){spotify_said}: run "
                f"`{LOGIN_COMMAND}` again and replace SPOTIFY_REFRESH_TOKEN"
            )
        return SourceError(f"{where}: Spotify answered {status}{spotify_said}")

    def _items_refused(self, playlist: dict, status: int, said: str, where: str) -> SourceError:
        if status == 403:
            return SourceError(f"{where}: {self._not_owner(playlist, 'refused the entries (403)')}")
        return self._playlist_refused(playlist["id"], status, said, where)

    @staticmethod
    def _not_owner(playlist: dict, what_spotify_did: str) -> str:
        owner = playlist.get("owner") or {}
        owner_name = owner.get("display_name") or owner.get("id") or "someone else"
        return (
            f"Spotify {what_spotify_did} of {playlist.get('name')!r}, owned by {owner_name!r}: "
            "since 2026 Spotify returns a playlist's entries only to its owner or a "
            "collaborator, and the account that gave SPOTIFY_REFRESH_TOKEN is neither. Log in "
            f"as the owner (`{LOGIN_COMMAND}`), ask the owner to make you a collaborator, or "
            "copy the playlist into one you own"
        )


def _spotify_message(message: str | None) -> str:
    """spotipy's error text without the URL it puts first."""
    return (message or "").split(":\n", 1)[-1].strip()


def _when(now: dt.datetime, seconds: float) -> str:
    at = (now + dt.timedelta(seconds=math.ceil(seconds))).astimezone(dt.UTC)
    return f"{at:%Y-%m-%d %H:%M:%S} UTC (in {_human_duration(seconds)})"
