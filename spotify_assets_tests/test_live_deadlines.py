"""The live source's edges, through the real spotipy client against a fake Spotify on 127.0.0.1:
every request and every extraction ends by its deadline however slowly the server answers, no
redirect is followed, a truncated answer is retried like a 5xx, an answer that is not JSON fails
cleanly, and every failure names the playlist and the week, without a secret."""

import base64
import logging
import time

import pytest

from spotify_assets.sources import LiveSource, SourceError
from spotify_assets.sources.sample_generator import synthetic_playlist
from spotify_assets.sources.spotify_api import (
    DEFAULT_EXTRACTION_DEADLINE_SECONDS,
    DEFAULT_REQUEST_DEADLINE_SECONDS,
    DEFAULT_TIMEOUT_SECONDS,
    WORST_CASE_EXTRACTION_SECONDS,
    RetryPolicy,
    SpotifyPlaylistReader,
)
from spotify_assets_tests.fake_spotify import (
    ACCESS_TOKEN_PREFIX,
    CLIENT_ID,
    CLIENT_SECRET,
    REFRESH_TOKEN,
    FakeSpotify,
)
from spotify_assets_tests.test_live_source import WEEK, Clock, live_reader

PLAYLIST = synthetic_playlist(10)
WHERE = f"playlist {PLAYLIST['id']!r}, week {WEEK}: "
TOKEN_PATH = "/api/token"
PLAYLIST_PATH = f"/v1/playlists/{PLAYLIST['id']}"
ENDPOINTS = [
    pytest.param("POST", TOKEN_PATH, id="token"),
    pytest.param("GET", PLAYLIST_PATH, id="api"),
]
LONG_BODY = {"padding": "x" * 200}  # dripped, it would take a minute
SECRETS = (
    CLIENT_SECRET,
    REFRESH_TOKEN,
    f"{ACCESS_TOKEN_PREFIX}0",
    base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode(),
)


@pytest.fixture
def spotify():
    with FakeSpotify() as fake:
        fake.add_playlist(PLAYLIST)
        yield fake


@pytest.fixture
def elsewhere():
    """Another server, where redirects point."""
    with FakeSpotify() as fake:
        yield fake


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def read(spotify, clock, caplog):
    """Reads PLAYLIST with these reader settings; returns the SourceError it fails with, after
    checking that it names the playlist and the week and that no secret reached it or a log."""

    def read_failing(**settings) -> SourceError:
        with caplog.at_level(logging.DEBUG), pytest.raises(SourceError) as error:
            live_reader(spotify, clock, **settings).read(PLAYLIST["id"], WEEK)
        message = str(error.value)
        assert message.startswith(WHERE)
        for secret in SECRETS:
            assert secret not in message
            assert secret not in caplog.text
        return error.value

    return read_failing


def _paths(spotify: FakeSpotify) -> list[str]:
    return [request.path for request in spotify.requests]


# -- deadlines --------------------------------------------------------------------------------


@pytest.mark.parametrize("delivery", ["drip body", "drip all"])
@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_a_dripping_answer_ends_at_the_extraction_deadline(spotify, read, method, path, delivery):
    spotify.answer(method, path, 200, body=LONG_BODY, delivery=delivery, times=10)
    started = time.monotonic()

    error = read(extraction_deadline_seconds=1.0)

    assert time.monotonic() - started < 1.8  # a byte every 0.25 s never trips the 5 s timeout
    url = f"{spotify.accounts_base_url}{path}"
    assert str(error) == (
        f"{WHERE}the extraction reached its 1 s deadline ({url}: still unanswered at the "
        "deadline); retry the partition later"
    )
    assert error.transient is True
    assert _paths(spotify).count(path) == 1


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_a_dripping_answer_is_retried_after_the_request_deadline(
    spotify, read, clock, method, path
):
    spotify.answer(method, path, 200, body=LONG_BODY, delivery="drip body", times=10)
    started = time.monotonic()

    error = read(request_deadline_seconds=0.5, max_server_error_retries=1)

    assert time.monotonic() - started < 1.8
    assert str(error) == (
        f"{WHERE}Spotify kept failing (no complete answer within 0.5 s) after 1 retries; retry "
        "the partition later"
    )
    assert clock.waits == [1]
    assert _paths(spotify).count(path) == 2


def test_a_wait_that_would_pass_the_extraction_deadline_fails_at_once(spotify, read, clock):
    spotify.answer("GET", PLAYLIST_PATH, 200, body=LONG_BODY, delivery="drip body", times=10)

    error = read(request_deadline_seconds=0.5, extraction_deadline_seconds=1.2)

    assert str(error) == (
        f"{WHERE}the extraction reached its 1.2 s deadline (Spotify: no complete answer within "
        "0.5 s, and the 1 s wait before retry 1 of 4 would pass it); retry the partition later"
    )
    assert clock.waits == []


def test_rate_limit_waits_count_against_the_extraction_deadline(spotify, read, clock):
    spotify.rate_limit(PLAYLIST_PATH, retry_after=30, times=10)

    error = read(extraction_deadline_seconds=80)

    assert clock.waits == [30, 30]  # waited, not slept: the injected clock moved on
    assert str(error) == (
        f"{WHERE}the extraction reached its 80 s deadline (rate-limited by Spotify (429), "
        "Retry-After 30 s, and the 30 s wait before retry 3 of 3 would pass it); retry the "
        "partition later"
    )


def test_the_defaults_cover_one_request_with_all_its_retries():
    longest_request = RetryPolicy().longest_request_seconds(DEFAULT_REQUEST_DEADLINE_SECONDS)
    # 9 attempts of a token and an API request, 3 Retry-After waits of 60 s, 1+2+4+8 s backoff.
    assert longest_request == 9 * 2 * 30 + 3 * 60 + 15 == 735
    assert longest_request < DEFAULT_EXTRACTION_DEADLINE_SECONDS == 15 * 60
    assert WORST_CASE_EXTRACTION_SECONDS == 16 * 60
    source = LiveSource(client_id="id", client_secret="secret", refresh_token="token")
    assert source.request_timeout_seconds == DEFAULT_TIMEOUT_SECONDS == 10
    assert source.request_deadline_seconds == DEFAULT_REQUEST_DEADLINE_SECONDS
    assert source.extraction_deadline_seconds == DEFAULT_EXTRACTION_DEADLINE_SECONDS


# -- redirects --------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_a_redirect_is_never_followed(spotify, elsewhere, read, clock, method, path, status):
    target = f"{elsewhere.accounts_base_url}{path}"
    spotify.answer(
        method, path, status, headers={"Location": f"{target}?refresh_token={REFRESH_TOKEN}"}
    )

    error = read()

    assert elsewhere.requests == []
    setting = "SPOTIFY_ACCOUNTS_BASE_URL" if path == TOKEN_PATH else "SPOTIFY_API_BASE_URL"
    assert str(error) == (
        f"{WHERE}{spotify.accounts_base_url}{path}: answered {status} with a redirect to "
        f"{target}, which is never followed (nothing was sent there): check {setting}: only "
        "Spotify itself may answer there, not a proxy, a captive portal or a redirect"
    )
    assert _paths(spotify).count(path) == 1
    assert clock.waits == []


# -- truncated answers ------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_a_truncated_answer_is_retried_like_a_server_error(spotify, clock, method, path):
    spotify.answer(method, path, 200, body=LONG_BODY, delivery="cut short", times=2)

    extraction = live_reader(spotify, clock).read(PLAYLIST["id"], WEEK)

    assert extraction.playlist == PLAYLIST
    assert clock.waits == [1, 2]
    assert _paths(spotify).count(path) == 3


def test_answers_truncated_every_time_fail_after_the_last_retry(spotify, read, clock):
    spotify.answer("GET", PLAYLIST_PATH, 200, body=LONG_BODY, delivery="cut short", times=10)

    error = read(max_server_error_retries=2)

    assert str(error) == (
        f"{WHERE}Spotify kept failing (answer cut short) after 2 retries; retry the partition later"
    )
    assert clock.waits == [1, 2]


# -- answers that are not Spotify's -----------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "problem"),
    [
        ("POST", TOKEN_PATH, "<html>Sign in to the Wi-Fi</html>", "with text/html, not JSON"),
        ("POST", TOKEN_PATH, "", "with an empty body, not JSON"),
        ("POST", TOKEN_PATH, {"token_type": "Bearer"}, "without an access token and its lifetime"),
        ("GET", PLAYLIST_PATH, "<html>Sign in to the Wi-Fi</html>", "with text/html, not JSON"),
    ],
)
def test_an_answer_that_is_not_json_fails_cleanly(spotify, read, method, path, body, problem):
    spotify.answer(method, path, 200, body=body)

    error = read()

    setting = "SPOTIFY_ACCOUNTS_BASE_URL" if path == TOKEN_PATH else "SPOTIFY_API_BASE_URL"
    answered = "answered" if problem.startswith("without") else "answered 200"
    assert str(error).startswith(
        f"{WHERE}{spotify.accounts_base_url}{path}: {answered} {problem}: check {setting}: "
    )
    assert _paths(spotify).count(path) == 1


# -- every failure wrapped, no secret ---------------------------------------------------------


def test_an_error_page_that_echoes_the_secrets_is_redacted(spotify, read):
    echo = f"<p>{CLIENT_SECRET} refresh_token={REFRESH_TOKEN} Bearer {ACCESS_TOKEN_PREFIX}0</p>"
    spotify.answer("GET", PLAYLIST_PATH, 400, body=echo)

    error = read()

    assert str(error).startswith(f'{WHERE}Spotify answered 400 (Spotify: "<p>[redacted]')


def test_an_unexpected_failure_is_wrapped_with_the_playlist_and_the_week(spotify, clock):
    reader = SpotifyPlaylistReader(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        refresh_token=REFRESH_TOKEN,
        api_url=spotify.api_base_url,
        accounts_url=f"no-scheme/{CLIENT_SECRET}",  # requests refuses it: MissingSchema
        now=clock.now,
    )

    with pytest.raises(SourceError) as error:
        reader.read(PLAYLIST["id"], WEEK)

    assert str(error.value).startswith(
        f"{WHERE}reading it failed unexpectedly (MissingSchema: Invalid URL "
        "'no-scheme/[redacted]/api/token'"
    )
    assert error.value.__cause__ is None


def test_a_credential_without_a_value_fails_before_any_request(spotify):
    source = LiveSource(client_id=CLIENT_ID, client_secret=" ", refresh_token="")

    with pytest.raises(SourceError) as error:
        source.extract(PLAYLIST["id"], WEEK)

    assert str(error.value).startswith(
        f"{WHERE}no value for SPOTIFY_CLIENT_SECRET, SPOTIFY_REFRESH_TOKEN in this run: set it "
    )
    assert spotify.requests == []
