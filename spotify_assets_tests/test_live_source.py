"""The live source through the real spotipy client against a fake Spotify on 127.0.0.1: the
requests it makes, the document it builds, the waits it allows and the errors it raises."""

import base64
import datetime as dt
import functools
import json
import logging
import math
import time

import pytest

from spotify_assets.sources import SourceError, StoredSnapshot
from spotify_assets.sources.sample_generator import churn, synthetic_playlist
from spotify_assets.sources.spotify_api import (
    OwnerAuthorization,
    RetryPolicy,
    SpotifyPlaylistReader,
    latest_completed_week,
    parse_playlist_id,
    parse_playlist_ids,
    retry_after_seconds,
)
from spotify_assets_tests.fake_spotify import (
    CLIENT_ID,
    CLIENT_SECRET,
    REFRESH_TOKEN,
    FakeSpotify,
)

NOW = dt.datetime(2026, 11, 16, 6, 0, tzinfo=dt.UTC)  # the Monday schedule tick
WEEK = "2026-11-09"  # the latest completed week at NOW
ITEM_TYPES = "track,episode"
SIZES = (0, 1, 50, 51, 120, 1000)
SECRETS = (CLIENT_SECRET, REFRESH_TOKEN)


class Clock:
    """An injected clock: ``sleep`` records the wait and moves time on, without waiting; the
    monotonic clock runs in real time, plus the waits."""

    def __init__(self) -> None:
        self.current = NOW
        self.waits: list[float] = []

    def now(self) -> dt.datetime:
        return self.current

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.current += dt.timedelta(seconds=seconds)

    def monotonic(self) -> float:
        return time.monotonic() + sum(self.waits)


READER_SETTINGS = ("timeout_seconds", "request_deadline_seconds", "extraction_deadline_seconds")


def live_reader(
    spotify: FakeSpotify, clock: Clock, client_secret: str = CLIENT_SECRET, **settings
) -> SpotifyPlaylistReader:
    """A reader of ``spotify`` on ``clock``: ``settings`` are the reader's timeouts and deadlines
    and the fields of its RetryPolicy."""
    reader_settings = {"timeout_seconds": 5.0}
    reader_settings |= {key: settings.pop(key) for key in READER_SETTINGS if key in settings}
    return SpotifyPlaylistReader(
        client_id=CLIENT_ID,
        client_secret=client_secret,
        refresh_token=REFRESH_TOKEN,
        api_url=spotify.api_base_url,
        accounts_url=spotify.accounts_base_url,
        retry_policy=RetryPolicy(**settings),
        sleep=clock.sleep,
        now=clock.now,
        monotonic=clock.monotonic,
        logger=logging.getLogger("spotify_assets_tests.live"),
        **reader_settings,
    )


@pytest.fixture
def spotify():
    with FakeSpotify() as fake:
        yield fake


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_reader(spotify, clock):
    return functools.partial(live_reader, spotify, clock)


def _calls(spotify: FakeSpotify) -> list[tuple]:
    return [(r.method, r.path, r.query) for r in spotify.requests]


def _expected_calls(playlist: dict) -> list[tuple]:
    """The requests of a changed playlist: token, playlist, each further page, the re-check."""
    shape = "items" if "items" in playlist else "tracks"
    total, embedded = playlist[shape]["total"], playlist[shape]["limit"]
    path = f"/v1/playlists/{playlist['id']}"
    calls = [("POST", "/api/token", {}), ("GET", path, {"additional_types": ITEM_TYPES})]
    for offset in range(embedded, total, 50):
        query = {"limit": "50", "offset": str(offset), "additional_types": ITEM_TYPES}
        calls.append(("GET", f"{path}/items", query))
    if total > embedded:
        calls.append(("GET", path, {"fields": "snapshot_id", "additional_types": ITEM_TYPES}))
    return calls


def _fail_if_loaded() -> dict:
    raise AssertionError("the stored snapshot was read although the playlist changed")


# -- reading a playlist -----------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["items", "tracks"])
@pytest.mark.parametrize("size", SIZES)
def test_a_changed_playlist_costs_one_request_per_page(spotify, make_reader, size, shape):
    playlist = synthetic_playlist(size, shape=shape)
    spotify.add_playlist(playlist)
    stored = StoredSnapshot(week="2026-11-02", snapshot_id="older", load=_fail_if_loaded)

    extraction = make_reader().read(playlist["id"], WEEK, stored)

    assert extraction.playlist == playlist
    embedded = playlist[shape]["limit"]  # 50 for the 2026 shape, 100 for older apps
    pages = math.ceil(max(0, size - embedded) / 50)
    assert extraction.request_count == 1 + pages + (1 if pages else 0)  # + the snapshot re-check
    assert _calls(spotify) == _expected_calls(playlist)
    assert extraction.metadata == {"unchanged": False, "requests_saved": 0, "token_requests": 1}
    api_requests = [r for r in spotify.requests if r.path.startswith("/v1/")]
    assert {r.headers["accept-language"] for r in api_requests} == {"en"}
    assert {r.headers["authorization"] for r in api_requests} == {
        f"Bearer {spotify.issued_access_tokens[0]}"
    }


@pytest.mark.parametrize("shape", ["items", "tracks"])
@pytest.mark.parametrize("size", SIZES)
def test_an_unchanged_playlist_costs_one_request_and_reuses_the_stored_entries(
    spotify, make_reader, size, shape
):
    playlist = synthetic_playlist(size, shape=shape)
    spotify.add_playlist(playlist)
    stored_document = json.loads(json.dumps(playlist))
    stored = StoredSnapshot("2026-11-02", playlist["snapshot_id"], lambda: stored_document)

    extraction = make_reader().read(playlist["id"], WEEK, stored)

    assert extraction.playlist == playlist
    assert extraction.request_count == 1
    assert [call[:2] for call in _calls(spotify)] == [
        ("POST", "/api/token"),
        ("GET", f"/v1/playlists/{playlist['id']}"),
    ]
    pages = math.ceil(max(0, size - playlist[shape]["limit"]) / 50)
    assert extraction.metadata["unchanged"] is True
    assert extraction.metadata["requests_saved"] == pages + (1 if pages else 0)
    assert extraction.metadata["entries_reused_from_week"] == "2026-11-02"


@pytest.mark.parametrize(
    "load",
    [
        pytest.param(lambda: (_ for _ in ()).throw(FileNotFoundError("gone")), id="missing"),
        pytest.param(lambda: {"id": "another", "snapshot_id": "x", "items": {}}, id="mismatch"),
    ],
)
def test_a_stored_snapshot_that_cannot_be_used_costs_the_pages_not_the_run(
    spotify, make_reader, caplog, load
):
    playlist = synthetic_playlist(120)
    spotify.add_playlist(playlist)
    stored = StoredSnapshot("2026-11-02", playlist["snapshot_id"], load)

    with caplog.at_level(logging.WARNING):
        extraction = make_reader().read(playlist["id"], WEEK, stored)

    assert extraction.playlist == playlist
    assert extraction.metadata["unchanged"] is False
    assert _calls(spotify) == _expected_calls(playlist)
    assert "reading every page instead" in caplog.text


def test_a_playlist_reordered_while_paged_is_read_again(spotify, make_reader):
    playlist = synthetic_playlist(120)
    edited = churn(playlist, 0.1)  # same total, other entries, a new snapshot id
    spotify.add_playlist(playlist)

    def edit_once(request):
        if request.path.endswith("/items") and spotify.playlists[playlist["id"]] is playlist:
            spotify.playlists[playlist["id"]] = edited

    spotify.on_request = edit_once

    extraction = make_reader().read(playlist["id"], WEEK)

    assert extraction.playlist == edited
    once = _expected_calls(playlist)[1:]
    assert _calls(spotify) == [("POST", "/api/token", {})] + once + once
    assert extraction.request_count == 2 * len(once)


def test_a_playlist_that_shrinks_while_paged_is_read_again_at_once(spotify, make_reader):
    playlist = synthetic_playlist(120)
    shrunk = json.loads(json.dumps(playlist))
    del shrunk["items"]["items"][-10:]
    shrunk["items"]["total"] = 110
    shrunk["snapshot_id"] = "shrunk"
    spotify.add_playlist(playlist)

    def shrink_once(request):
        if request.path.endswith("/items") and spotify.playlists[playlist["id"]] is playlist:
            spotify.playlists[playlist["id"]] = shrunk

    spotify.on_request = shrink_once

    extraction = make_reader().read(playlist["id"], WEEK)

    assert extraction.playlist == shrunk
    path = f"/v1/playlists/{playlist['id']}"
    # The first page's total disagrees: no further page, no re-check before reading again.
    assert [call[1] for call in _calls(spotify)] == [
        "/api/token",
        path,
        f"{path}/items",
        *[call[1] for call in _expected_calls(shrunk)[1:]],
    ]


def test_a_playlist_edited_during_both_reads_fails_clearly(spotify, make_reader):
    playlist = synthetic_playlist(120)
    versions = [churn(playlist, 0.1, seed=seed) for seed in range(1, 4)]
    spotify.add_playlist(playlist)

    def edit_every_time(request):
        if request.path.endswith("/items") and request.query["offset"] == "50":
            spotify.playlists[playlist["id"]] = versions.pop(0)

    spotify.on_request = edit_every_time

    with pytest.raises(SourceError) as error:
        make_reader().read(playlist["id"], WEEK)

    assert str(error.value).startswith(f"playlist {playlist['id']!r}, week {WEEK}: ")
    assert "changed while it was being read, twice in a row" in str(error.value)
    assert "retry the partition later" in str(error.value)
    assert len([call for call in _calls(spotify) if "fields" in call[2]]) == 2


# -- rate limits, server errors and timeouts ---------------------------------------------------


def test_short_rate_limits_are_waited_out_and_logged(spotify, make_reader, clock, caplog):
    playlist = synthetic_playlist(120)
    spotify.add_playlist(playlist)
    spotify.rate_limit(f"/v1/playlists/{playlist['id']}", retry_after=2, times=2)
    spotify.rate_limit(f"/v1/playlists/{playlist['id']}/items", retry_after=7)

    with caplog.at_level(logging.WARNING):
        extraction = make_reader().read(playlist["id"], WEEK)

    assert extraction.playlist == playlist
    assert clock.waits == [2, 2, 7]
    assert extraction.request_count == len(_expected_calls(playlist)) - 1 + 3
    waits = [r.getMessage() for r in caplog.records if "waiting" in r.getMessage()]
    assert waits == [
        f"playlist {playlist['id']!r}, week {WEEK}: rate-limited by Spotify (429), "
        f"Retry-After {seconds} s; waiting {seconds} s before retry {retry} of 3"
        for seconds, retry in [(2, 1), (2, 2), (7, 1)]
    ]


def test_a_rate_limit_that_does_not_end_fails_after_the_allowed_waits(spotify, make_reader, clock):
    playlist = synthetic_playlist(10)
    spotify.add_playlist(playlist)
    spotify.rate_limit(f"/v1/playlists/{playlist['id']}", retry_after=5, times=10)

    with pytest.raises(SourceError) as error:
        make_reader(max_rate_limit_retries=3).read(playlist["id"], WEEK)

    assert clock.waits == [5, 5, 5]
    assert str(error.value) == (
        f"playlist {playlist['id']!r}, week {WEEK}: still rate-limited by Spotify (429) after "
        "3 waits; retry after 2026-11-16 06:00:20 UTC (in 5 s)"
    )


@pytest.mark.parametrize(
    ("retry_after", "cap", "expected"),
    [
        (
            3600,
            60,
            "asks to wait 60 min (429 Retry-After), longer than the 60 s a run waits; "
            "retry after 2026-11-16 07:00:00 UTC (in 60 min)",
        ),
        (
            20,
            10,
            "asks to wait 20 s (429 Retry-After), longer than the 10 s a run waits; "
            "retry after 2026-11-16 06:00:20 UTC (in 20 s)",
        ),
    ],
)
def test_a_long_retry_after_fails_at_once_with_the_time_to_retry(
    spotify, make_reader, clock, retry_after, cap, expected
):
    playlist = synthetic_playlist(10)
    spotify.add_playlist(playlist)
    spotify.rate_limit(f"/v1/playlists/{playlist['id']}", retry_after=retry_after)

    with pytest.raises(SourceError) as error:
        make_reader(max_retry_after_seconds=cap).read(playlist["id"], WEEK)

    assert clock.waits == []
    assert str(error.value) == f"playlist {playlist['id']!r}, week {WEEK}: Spotify {expected}"


@pytest.mark.parametrize("retry_after", [2, 20000])
def test_an_exhausted_quota_fails_at_once_with_the_time_to_retry(
    spotify, make_reader, clock, retry_after
):
    playlist = synthetic_playlist(10)
    spotify.add_playlist(playlist)
    spotify.rate_limit(f"/v1/playlists/{playlist['id']}", retry_after=retry_after, quota=True)

    with pytest.raises(SourceError) as error:
        make_reader().read(playlist["id"], WEEK)

    assert clock.waits == []
    retry_at = NOW + dt.timedelta(seconds=retry_after)
    assert "request quota is used up (429 QUOTA_EXCEEDED)" in str(error.value)
    assert f"retry after {retry_at:%Y-%m-%d %H:%M:%S} UTC" in str(error.value)


def test_server_errors_are_retried_with_a_bounded_backoff(spotify, make_reader, clock, caplog):
    playlist = synthetic_playlist(120)
    spotify.add_playlist(playlist)
    spotify.answer("GET", f"/v1/playlists/{playlist['id']}/items", 502, times=2)
    spotify.answer("POST", "/api/token", 503)

    with caplog.at_level(logging.WARNING):
        extraction = make_reader().read(playlist["id"], WEEK)

    assert extraction.playlist == playlist
    assert clock.waits == [1, 1, 2]  # the token request's retry, then the page's two
    assert "Spotify answered 503; waiting 1 s before retry 1 of 4" in caplog.text
    assert "Spotify answered 502; waiting 2 s before retry 2 of 4" in caplog.text


def test_server_errors_that_persist_fail_after_the_last_retry(spotify, make_reader, clock):
    playlist = synthetic_playlist(10)
    spotify.add_playlist(playlist)
    spotify.answer("GET", f"/v1/playlists/{playlist['id']}", 500, times=100)

    with pytest.raises(SourceError, match=r"kept failing \(HTTP 500\) after 5 retries"):
        make_reader(max_server_error_retries=5, max_backoff_seconds=10).read(playlist["id"], WEEK)

    assert clock.waits == [1, 2, 4, 8, 10]


def test_every_request_has_a_timeout_the_token_request_included(spotify, make_reader, clock):
    playlist = synthetic_playlist(10)
    spotify.add_playlist(playlist)
    spotify.delay_seconds = 0.5

    with pytest.raises(SourceError, match=r"kept failing \(no answer in time\) after 1 retries"):
        make_reader(timeout_seconds=0.1, max_server_error_retries=1).read(playlist["id"], WEEK)

    assert [call[1] for call in _calls(spotify)] == ["/api/token", "/api/token"]
    assert clock.waits == [1]


# -- refusals ---------------------------------------------------------------------------------


def test_an_expired_or_revoked_refresh_token_says_to_log_in_again(spotify, make_reader):
    playlist = synthetic_playlist(10)
    spotify.add_playlist(playlist)
    spotify.revoked = True

    with pytest.raises(SourceError) as error:
        make_reader().read(playlist["id"], WEEK)

    message = str(error.value)
    assert "Spotify refused SPOTIFY_REFRESH_TOKEN (invalid_grant: Refresh token revoked)" in message
    assert "expire 6 months after the owner's consent" in message
    assert "run `spotify-assets login` again" in message
    assert _calls(spotify) == [("POST", "/api/token", {})]


def test_a_wrong_client_secret_says_which_settings_to_check(spotify, make_reader):
    spotify.add_playlist(synthetic_playlist(1))
    with pytest.raises(SourceError, match="refused SPOTIFY_CLIENT_ID / SPOTIFY_CLIENT_SECRET"):
        make_reader(client_secret="not-the-secret").read(synthetic_playlist(1)["id"], WEEK)


def test_an_access_token_refused_once_is_refreshed(spotify, make_reader):
    playlist = synthetic_playlist(10)
    spotify.add_playlist(playlist)
    spotify.answer("GET", f"/v1/playlists/{playlist['id']}", 401)

    assert make_reader().read(playlist["id"], WEEK).playlist == playlist
    assert [call[1] for call in _calls(spotify)].count("/api/token") == 2


def test_a_playlist_of_someone_else_returns_no_entries_and_is_named(spotify, make_reader):
    playlist = synthetic_playlist(10)
    spotify.add_playlist(playlist, shared=False)

    with pytest.raises(SourceError) as error:
        make_reader().read(playlist["id"], WEEK)

    assert str(error.value).startswith(
        f"playlist {playlist['id']!r}, week {WEEK}: Spotify returned none of the entries of "
        f"{playlist['name']!r}, owned by 'Sample Owner': since 2026 Spotify returns a "
        "playlist's entries only to its owner or a collaborator"
    )


def test_a_403_on_the_entries_names_the_playlist_and_why(spotify, make_reader):
    playlist = synthetic_playlist(120)
    spotify.add_playlist(playlist)
    spotify.answer("GET", f"/v1/playlists/{playlist['id']}/items", 403)

    with pytest.raises(SourceError) as error:
        make_reader().read(playlist["id"], WEEK)

    assert f"Spotify refused the entries (403) of {playlist['name']!r}" in str(error.value)
    assert "only to its owner or a collaborator" in str(error.value)


def test_an_editorial_playlist_says_spotify_no_longer_serves_it(spotify, make_reader):
    with pytest.raises(SourceError) as error:
        make_reader().read("37i9dQZF1DXcBWIGoYBM5M", WEEK)
    assert "editorial and algorithmic playlists (ids starting 37i9dQZ)" in str(error.value)
    assert "2024-11-27" in str(error.value)


def test_an_unknown_playlist_says_to_check_its_id(spotify, make_reader):
    with pytest.raises(SourceError) as error:
        make_reader().read("0000000000000000000000", WEEK)
    assert str(error.value) == (
        f"playlist '0000000000000000000000', week {WEEK}: Spotify has no such playlist (404) "
        '(Spotify: "Resource not found"): check its id in SPOTIFY_PLAYLISTS; it may have been '
        "deleted"
    )


def test_a_week_older_than_the_latest_completed_one_is_refused_without_a_request(
    spotify, make_reader
):
    playlist = synthetic_playlist(10)
    spotify.add_playlist(playlist)
    with pytest.raises(SourceError) as error:
        make_reader().read(playlist["id"], "2026-11-02")
    assert "Spotify cannot return the past" in str(error.value)
    assert "older than the latest completed week 2026-11-09" in str(error.value)
    assert "from the stored raw snapshot" in str(error.value)
    assert spotify.requests == []


# -- no prompt, no token file, no secret ------------------------------------------------------


def test_without_a_refresh_token_it_raises_instead_of_prompting(spotify, monkeypatch):
    monkeypatch.setattr("builtins.input", lambda prompt="": pytest.fail("prompted"))
    authorization = OwnerAuthorization(
        CLIENT_ID, CLIENT_SECRET, accounts_url=spotify.accounts_base_url
    )
    with pytest.raises(SourceError, match="a run never prompts"):
        authorization.get_access_token(as_dict=False)
    assert spotify.requests == []


def test_no_token_file_is_written(spotify, make_reader, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    playlist = synthetic_playlist(51)
    spotify.add_playlist(playlist)
    make_reader().read(playlist["id"], WEEK)
    assert list(tmp_path.iterdir()) == []


def test_no_secret_reaches_the_logs_or_the_errors(spotify, make_reader, caplog):
    playlist = synthetic_playlist(51)
    spotify.add_playlist(playlist)
    spotify.rate_limit(f"/v1/playlists/{playlist['id']}/items", retry_after=1)
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()

    with caplog.at_level(logging.DEBUG):
        make_reader().read(playlist["id"], WEEK)
        spotify.revoked = True
        with pytest.raises(SourceError) as error:
            make_reader().read(playlist["id"], WEEK)

    assert "Sending GET" in caplog.text  # spotipy's DEBUG lines, headers included, were logged
    for secret in (*SECRETS, basic, *spotify.issued_access_tokens):
        assert secret not in caplog.text
        assert secret not in str(error.value)


# -- settings ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "4q0xVAtAY3eZ8QdD5I84BJ",
        " spotify:playlist:4q0xVAtAY3eZ8QdD5I84BJ ",
        "spotify:user:someone:playlist:4q0xVAtAY3eZ8QdD5I84BJ",
        "https://open.spotify.com/playlist/4q0xVAtAY3eZ8QdD5I84BJ",
        "https://open.spotify.com/playlist/4q0xVAtAY3eZ8QdD5I84BJ?si=a1b2c3d4e5f64a7b",
        "https://open.spotify.com/intl-de/playlist/4q0xVAtAY3eZ8QdD5I84BJ?si=x&pt=y",
        "open.spotify.com/embed/playlist/4q0xVAtAY3eZ8QdD5I84BJ/",
        "http://open.spotify.com/user/someone/playlist/4q0xVAtAY3eZ8QdD5I84BJ",
    ],
)
def test_playlists_are_given_as_ids_uris_or_urls(text):
    assert parse_playlist_id(text) == "4q0xVAtAY3eZ8QdD5I84BJ"


@pytest.mark.parametrize(
    "text",
    [
        "https://open.spotify.com/album/4q0xVAtAY3eZ8QdD5I84BJ",
        "spotify:track:4q0xVAtAY3eZ8QdD5I84BJ",
        "https://example.com/playlist/4q0xVAtAY3eZ8QdD5I84BJ",
        "4q0xVAtAY3eZ8QdD5I84B",
        "my playlist",
    ],
)
def test_anything_else_is_refused_with_what_was_expected(text):
    with pytest.raises(ValueError, match="is not a Spotify playlist id"):
        parse_playlist_id(text)


def test_a_list_of_playlists_keeps_its_order_once_each():
    text = (
        "5UoXmz9Ih7BMj3N8lyfB0c, https://open.spotify.com/playlist/4q0xVAtAY3eZ8QdD5I84BJ?si=1,"
        ",spotify:playlist:5UoXmz9Ih7BMj3N8lyfB0c,"
    )
    assert parse_playlist_ids(text) == ["5UoXmz9Ih7BMj3N8lyfB0c", "4q0xVAtAY3eZ8QdD5I84BJ"]
    assert parse_playlist_ids(" ") == []


def test_retry_after_takes_seconds_or_a_date():
    assert retry_after_seconds("17", NOW) == 17
    assert retry_after_seconds("Mon, 16 Nov 2026 06:02:00 GMT", NOW) == 120
    assert retry_after_seconds(None, NOW) is None
    assert retry_after_seconds("soon", NOW) is None


def test_the_latest_completed_week_is_the_schedules_week():
    from spotify_assets.schedules import last_completed_week

    for hours in range(0, 24 * 8, 5):
        now = NOW + dt.timedelta(hours=hours)
        assert latest_completed_week(now) == last_completed_week(now)
