"""The live source: playlists read from the Spotify Web API as their owner.

Chosen instead of the replay source when ``SPOTIFY_CLIENT_ID``, ``SPOTIFY_CLIENT_SECRET`` and
``SPOTIFY_REFRESH_TOKEN`` are all set. The logic lives in :mod:`spotify_assets.sources.spotify_api`;
this module only makes it a Dagster resource.
"""

import datetime as dt
import os
import time

import dagster as dg
from pydantic import Field

from spotify_assets.sources.base import Extraction, PlaylistSource, SourceError, StoredSnapshot
from spotify_assets.sources.spotify_api import (
    DEFAULT_ACCOUNTS_BASE_URL,
    DEFAULT_API_BASE_URL,
    DEFAULT_EXTRACTION_DEADLINE_SECONDS,
    DEFAULT_REQUEST_DEADLINE_SECONDS,
    DEFAULT_TIMEOUT_SECONDS,
    LOGIN_COMMAND,
    RetryPolicy,
    SpotifyPlaylistReader,
    parse_playlist_ids,
    utc_now,
)
from spotify_assets.sources.spotify_settings import (  # noqa: F401 (imported from here too)
    CREDENTIAL_VARIABLES,
    ENV_ACCOUNTS_BASE_URL,
    ENV_API_BASE_URL,
    ENV_CLIENT_ID,
    ENV_CLIENT_SECRET,
    ENV_PLAYLISTS,
    ENV_REFRESH_TOKEN,
    spotify_credentials_configured,
)


class LiveSource(PlaylistSource):
    """Reads playlists from the Spotify Web API as their owner (Authorization Code, refresh
    token). Reads the playlist and then every page of its entries, 50 at a time; an unchanged
    playlist (same snapshot id as the latest stored raw snapshot) costs one request. Waits out
    short rate limits and server errors, and fails the partition with a clear message on
    anything else. Every request ends within its deadline (30 s) and a whole read within its own
    (15 min), however slowly Spotify answers; redirects are never followed."""

    client_id: str = Field(description="The Spotify app's client id (SPOTIFY_CLIENT_ID).")
    client_secret: str = Field(
        repr=False, description="The Spotify app's client secret (SPOTIFY_CLIENT_SECRET)."
    )
    refresh_token: str = Field(
        repr=False,
        description=f"The playlists owner's refresh token (SPOTIFY_REFRESH_TOKEN), from "
        f"`{LOGIN_COMMAND}`. Expires 6 months after the owner's consent.",
    )
    playlists: str = Field(
        default="",
        description="The playlists to snapshot: ids, spotify:playlist: URIs or open.spotify.com "
        "URLs, comma-separated (SPOTIFY_PLAYLISTS).",
    )
    api_base_url: str = Field(
        default=DEFAULT_API_BASE_URL,
        description="The Web API root (SPOTIFY_API_BASE_URL), for proxies and tests.",
    )
    accounts_base_url: str = Field(
        default=DEFAULT_ACCOUNTS_BASE_URL,
        description="The accounts service root (SPOTIFY_ACCOUNTS_BASE_URL), for proxies and tests.",
    )
    request_timeout_seconds: float = Field(
        default=DEFAULT_TIMEOUT_SECONDS,
        description="How long a request waits to connect, and then for each next part of the "
        "answer.",
    )
    request_deadline_seconds: float = Field(
        default=DEFAULT_REQUEST_DEADLINE_SECONDS,
        description="The longest one request may take in all, the token request included, "
        "however slowly Spotify answers; then it is retried like a server error.",
    )
    extraction_deadline_seconds: float = Field(
        default=DEFAULT_EXTRACTION_DEADLINE_SECONDS,
        description="The longest one partition's read may take in all, retries and waits "
        "included; then the partition fails.",
    )
    max_retry_after_seconds: float = Field(
        default=60.0,
        description="The longest 429 Retry-After a run waits out; a longer one fails the "
        "partition at once with the time to retry.",
    )
    max_rate_limit_retries: int = Field(default=3, description="429 waits per request.")
    max_server_error_retries: int = Field(
        default=4, description="Retries after a 5xx, a timeout or a refused connection."
    )
    accept_language: str = Field(
        default="en",
        description="The Accept-Language of every request: localized names stay "
        "the same from week to week.",
    )

    def playlist_ids(self) -> list[str]:
        return parse_playlist_ids(self.playlists)

    def extract(self, playlist_id: str, week: str) -> Extraction:
        return self.extract_reusing(playlist_id, week, None)

    def extract_reusing(
        self, playlist_id: str, week: str, latest_stored: StoredSnapshot | None
    ) -> Extraction:
        credentials = (self.client_id, self.client_secret, self.refresh_token)
        unset = [
            name
            for name, value in zip(CREDENTIAL_VARIABLES, credentials, strict=True)
            if not value.strip()
        ]
        if unset:
            raise SourceError(
                f"playlist {playlist_id!r}, week {week}: no value for {', '.join(unset)} in this "
                "run: set it where runs read their settings (.env for `dagster dev`, the "
                "deployment's secret variables otherwise)"
            )
        return self.reader().read(playlist_id, week, latest_stored)

    def reader(self) -> SpotifyPlaylistReader:
        """A reader with a fresh session and token: one per extraction."""
        return SpotifyPlaylistReader(
            client_id=self.client_id,
            client_secret=self.client_secret,
            refresh_token=self.refresh_token,
            api_url=self.api_base_url,
            accounts_url=self.accounts_base_url,
            timeout_seconds=self.request_timeout_seconds,
            request_deadline_seconds=self.request_deadline_seconds,
            extraction_deadline_seconds=self.extraction_deadline_seconds,
            accept_language=self.accept_language,
            retry_policy=RetryPolicy(
                max_retry_after_seconds=self.max_retry_after_seconds,
                max_rate_limit_retries=self.max_rate_limit_retries,
                max_server_error_retries=self.max_server_error_retries,
            ),
            sleep=self.sleep,
            now=self.now,
            logger=dg.get_dagster_logger(),
        )

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def now(self) -> dt.datetime:
        return utc_now()


def own_playlist_ids_from_environment() -> list[str]:
    """The owner's readable playlists (:meth:`SpotifyPlaylistReader.own_playlist_ids`), with the
    credentials and hosts of the environment: for the playlist partitions sensor, outside a run."""
    return SpotifyPlaylistReader(
        client_id=os.environ.get(ENV_CLIENT_ID, ""),
        client_secret=os.environ.get(ENV_CLIENT_SECRET, ""),
        refresh_token=os.environ.get(ENV_REFRESH_TOKEN, ""),
        api_url=os.environ.get(ENV_API_BASE_URL) or None,
        accounts_url=os.environ.get(ENV_ACCOUNTS_BASE_URL) or None,
        logger=dg.get_dagster_logger(),
    ).own_playlist_ids()


def live_source_from_environment() -> LiveSource | None:
    """The live source when the three Spotify credentials are set, else None. The secrets stay
    ``dg.EnvVar``s: Dagster resolves them at run time and shows only their names."""
    if not spotify_credentials_configured():
        return None
    return LiveSource(
        client_id=dg.EnvVar(ENV_CLIENT_ID),
        client_secret=dg.EnvVar(ENV_CLIENT_SECRET),
        refresh_token=dg.EnvVar(ENV_REFRESH_TOKEN),
        playlists=os.environ.get(ENV_PLAYLISTS, ""),
        api_base_url=os.environ.get(ENV_API_BASE_URL) or DEFAULT_API_BASE_URL,
        accounts_base_url=os.environ.get(ENV_ACCOUNTS_BASE_URL) or DEFAULT_ACCOUNTS_BASE_URL,
    )
