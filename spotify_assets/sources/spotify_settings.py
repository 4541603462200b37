"""What the Spotify settings say, without the Spotify client: the playlist ids a setting names,
whether the owner's credentials are set, and how long a read may take.

The definitions read these at every start-up to choose a source and its partitions; spotipy and
requests (:mod:`spotify_assets.sources.spotify_api`) load only when the live source is used.
"""

import os
import re
from urllib.parse import urlsplit

ENV_CLIENT_ID = "SPOTIFY_CLIENT_ID"
ENV_CLIENT_SECRET = "SPOTIFY_CLIENT_SECRET"
ENV_REFRESH_TOKEN = "SPOTIFY_REFRESH_TOKEN"
ENV_API_BASE_URL = "SPOTIFY_API_BASE_URL"
ENV_ACCOUNTS_BASE_URL = "SPOTIFY_ACCOUNTS_BASE_URL"
ENV_PLAYLISTS = "SPOTIFY_PLAYLISTS"
CREDENTIAL_VARIABLES = (ENV_CLIENT_ID, ENV_CLIENT_SECRET, ENV_REFRESH_TOKEN)

# One request may use its whole retry budget (735 s with the default policy, see
# RetryPolicy.longest_request_seconds) and the other requests of a large playlist still have
# about three minutes at their usual pace.
DEFAULT_EXTRACTION_DEADLINE_SECONDS = 15 * 60
# The longest one extraction takes with the default settings, to set a run timeout
# (`dagster/max_runtime`) from: every request and every wait stops at the extraction deadline,
# and the minute on top is for the work between requests that no deadline cuts (decoding the
# answers received in time, loading the stored snapshot whose entries are reused).
WORST_CASE_EXTRACTION_SECONDS = DEFAULT_EXTRACTION_DEADLINE_SECONDS + 60

_PLAYLIST_ID = re.compile(r"[0-9A-Za-z]{22}")
_SPOTIFY_HOSTS = {"open.spotify.com", "play.spotify.com"}


def spotify_credentials_configured() -> bool:
    """Whether the owner's three credentials are set: the live source is used then."""
    return all(os.environ.get(name, "").strip() for name in CREDENTIAL_VARIABLES)


def parse_playlist_id(text: str) -> str:
    """The playlist id in an id, a ``spotify:playlist:`` URI or an open.spotify.com URL
    (``/intl-xx/``, ``/embed/`` and ``?si=`` forms included)."""
    value = text.strip()
    candidate = None
    if _PLAYLIST_ID.fullmatch(value):
        candidate = value
    elif value.startswith("spotify:"):
        parts = value.split(":")  # spotify:playlist:<id> or spotify:user:<user>:playlist:<id>
        if len(parts) >= 3 and parts[-2] == "playlist":
            candidate = parts[-1]
    else:
        url = urlsplit(value if "://" in value else f"https://{value}")
        segments = [segment for segment in url.path.split("/") if segment]
        if url.hostname in _SPOTIFY_HOSTS and "playlist" in segments[:-1]:
            candidate = segments[segments.index("playlist") + 1]
    if candidate is None or not _PLAYLIST_ID.fullmatch(candidate):
        raise ValueError(
            f"{text.strip()!r} is not a Spotify playlist id, spotify:playlist: URI or "
            "open.spotify.com/playlist/ URL"
        )
    return candidate


def parse_playlist_ids(text: str) -> list[str]:
    """The playlist ids of a comma-separated list of ids, URIs and URLs, in order, once each."""
    ids = [parse_playlist_id(part) for part in text.split(",") if part.strip()]
    return list(dict.fromkeys(ids))
