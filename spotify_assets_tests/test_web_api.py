"""The read API on both serving stores: SQLite with local files, and DynamoDB with S3 on moto's
server; every route, its errors, what each request costs, and the same routes through the
Lambda handler with API Gateway's HTTP API events."""

import base64
import datetime as dt
import fnmatch
import json
import shlex
import shutil
import sqlite3
import subprocess
import sys
import urllib.parse
from collections import Counter

import pytest

from spotify_assets import constants
from spotify_assets.io_managers.serving import SQLiteServingStore
from spotify_assets.sources.sample_generator import (
    EDGE_CASES_PLAYLIST_ID,
    MAIN_PLAYLIST_ID,
    SMALL_PLAYLIST_ID,
)
from spotify_assets.web import lambda_handler
from spotify_assets.web.app import create_app
from spotify_assets.web.serving_reader import served_playlist_names
from spotify_assets.web.settings import AWS, LOCAL, WebSettings, build_api
from spotify_assets_tests.test_serving_store import _song, apply, generated_partition
from spotify_assets_tests.web_support import (
    LATEST_WEEK,
    REGION,
    WEB_BUCKET,
    WEB_PLAYLIST_IDS,
    WEB_S3_PREFIX,
    WEB_TABLE_PREFIX,
    XSS,
    XSS_PLAYLIST_ID,
    call,
    fill_aws,
    load_template,
    role_statements,
    set_aws_environment,
    web_lake,
)

UNKNOWN_ID = "0000000000000000000000"
PLAYLIST_NAMES = {
    MAIN_PLAYLIST_ID: "Weekly Rotation",
    SMALL_PLAYLIST_ID: "Sunday Morning",
    XSS_PLAYLIST_ID: XSS,
}


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    return web_lake(tmp_path_factory)


@pytest.fixture(scope="module")
def aws_settings(moto_server, lake):
    """The lake's latest weeks in DynamoDB and its files in S3, for the whole module (filling
    them takes a few seconds); the environment of the aws deployment, pointed at moto."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        set_aws_environment(monkeypatch, moto_server)
        fill_aws(lake, moto_server)
        yield WebSettings(
            deployment=AWS,
            bucket=WEB_BUCKET,
            s3_prefix=WEB_S3_PREFIX,
            table_prefix=WEB_TABLE_PREFIX,
            region=REGION,
        )


@pytest.fixture(scope="module")
def sqlite_api(lake):
    return build_api(WebSettings(deployment=LOCAL, data_dir=lake))


@pytest.fixture(scope="module")
def dynamodb_api(aws_settings):
    return build_api(aws_settings)


@pytest.fixture(scope="module", params=["sqlite", "dynamodb"])
def app(request):
    """The app over one store or the other: every test that takes it runs on both."""
    return create_app(request.getfixturevalue(f"{request.param}_api"))


def get(app, url: str):
    answer = call(app, url)
    assert answer.headers["content-type"].startswith("application/json"), url
    return answer.status, answer.json()


# --- the expected answers, from the serving store's own reader and the files ---------------------


def _iso(value):
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


def served(lake, table: str, playlist_id: str | None = None) -> list[dict]:
    """A serving table as the IO manager's store reads it, timestamps in ISO 8601."""
    rows = SQLiteServingStore(lake / constants.SQLITE_FILE_NAME).read_table(table, playlist_id)
    return [{k: _iso(v) for k, v in row.items()} for row in rows.to_pylist()]


def by_key(rows: list[dict], key: str) -> dict[str, dict]:
    return {row[key]: row for row in rows}


# --- playlists and the dashboard files ------------------------------------------------------------


def test_playlists_are_listed_with_their_names_and_latest_summary(app, lake):
    status, body = get(app, "/api/playlists")
    assert status == 200
    index = json.loads((lake / "dashboard" / "index.json").read_bytes())
    assert [p["playlist"] for p in body["playlists"]] == sorted(WEB_PLAYLIST_IDS)
    names = {p["playlist"]: p["name"] for p in body["playlists"]}
    assert {k: names[k] for k in PLAYLIST_NAMES} == PLAYLIST_NAMES
    assert [p["latest"] for p in body["playlists"]] == [p["latest"] for p in index["playlists"]]
    assert body["views"] == index["views"]


def test_one_playlist_names_its_views_and_served_snapshot(app, lake):
    status, body = get(app, f"/api/playlists/{SMALL_PLAYLIST_ID}")
    assert status == 200
    entries = served(lake, constants.PLAYLIST_ENTRIES, SMALL_PLAYLIST_ID)
    assert body["name"] == "Sunday Morning"
    assert body["latest"]["week"] == LATEST_WEEK
    assert body["served"] == {"week": LATEST_WEEK, "snapshot_id": entries[0]["snapshot_id"]}
    assert "top_artists" in body["views"] and "tracks_ever" in body["views"]


SERVED_ATTRIBUTES = ("name", "owner_id", "owner_name", "total", "snapshot_id", "url")


def test_a_playlist_is_named_and_described_by_the_serving_table(app, lake):
    rows = by_key(served(lake, constants.PLAYLISTS), "playlist_id")
    assert rows.keys() == set(WEB_PLAYLIST_IDS)
    status, body = get(app, "/api/playlists")
    assert status == 200
    for item in body["playlists"]:
        row = rows[item["playlist"]]
        assert {k: item[k] for k in SERVED_ATTRIBUTES} == {k: row[k] for k in SERVED_ATTRIBUTES}
    status, body = get(app, f"/api/playlists/{XSS_PLAYLIST_ID}")
    assert status == 200 and body["name"] == XSS
    assert body["attributes"] == {
        k: v for k, v in rows[XSS_PLAYLIST_ID].items() if k != "playlist_id"
    }
    assert body["attributes"]["snapshot_id"] == body["served"]["snapshot_id"]
    status, body = get(app, f"/api/playlists/{SMALL_PLAYLIST_ID}/entries?limit=1")
    assert (status, body["name"]) == (200, "Sunday Morning")


def test_the_served_name_wins_over_the_dashboards_until_it_has_none(lake, tmp_path):
    copy = tmp_path / "data"
    shutil.copytree(lake, copy)
    app = create_app(build_api(WebSettings(deployment=LOCAL, data_dir=copy)))
    with sqlite3.connect(copy / constants.SQLITE_FILE_NAME) as connection:
        connection.execute(
            "UPDATE playlists SET name = 'Renamed' WHERE playlist_id = ?", [SMALL_PLAYLIST_ID]
        )
    assert get(app, f"/api/playlists/{SMALL_PLAYLIST_ID}")[1]["name"] == "Renamed"
    names = {p["playlist"]: p["name"] for p in get(app, "/api/playlists")[1]["playlists"]}
    assert names[SMALL_PLAYLIST_ID] == "Renamed"
    assert served_playlist_names(copy / constants.SQLITE_FILE_NAME, names) == names
    # Without a served row (a serving store behind the dashboard), the index's name stands in.
    with sqlite3.connect(copy / constants.SQLITE_FILE_NAME) as connection:
        connection.execute("DELETE FROM playlists WHERE playlist_id = ?", [SMALL_PLAYLIST_ID])
    status, body = get(app, "/api/playlists")
    [small] = [p for p in body["playlists"] if p["playlist"] == SMALL_PLAYLIST_ID]
    assert (small["name"], small["total"], small["url"]) == ("Sunday Morning", None, None)
    assert get(app, f"/api/playlists/{SMALL_PLAYLIST_ID}")[1]["attributes"] is None
    assert SMALL_PLAYLIST_ID not in served_playlist_names(copy / constants.SQLITE_FILE_NAME, names)
    assert served_playlist_names(tmp_path / "none.sqlite", names) == {}


def test_an_emptied_playlist_shows_total_0_and_a_week_never_taken_its_last_row(tmp_path):
    empty, untaken = "empt000000000000000000A", "empt000000000000000000B"
    songs = [_song("s1", "One", added=5), _song("s2", "Two", added=6)]
    store = SQLiteServingStore(tmp_path / constants.SQLITE_FILE_NAME)
    apply(
        store,
        [
            generated_partition(empty, "2026-10-05", songs),
            generated_partition(empty, "2026-10-12", []),  # emptied
            generated_partition(untaken, "2026-10-05", songs),  # 2026-10-12 never taken
        ],
    )
    app = create_app(build_api(WebSettings(deployment=LOCAL, data_dir=tmp_path)))
    status, body = get(app, f"/api/playlists/{empty}")
    assert status == 200 and body["served"]["week"] == "2026-10-12"
    assert body["attributes"]["total"] == 0 and body["name"] == "Playlist A of 2026-10-12"
    assert get(app, f"/api/playlists/{empty}/entries")[1]["entries"] == []
    status, body = get(app, f"/api/playlists/{untaken}")
    assert status == 200 and body["served"]["week"] == "2026-10-05"
    assert body["attributes"]["total"] == 2 and body["name"] == "Playlist B of 2026-10-05"


def test_a_view_is_its_files_rows_a_page_at_a_time(app, lake):
    for view in ("playlist_length", "top_artists", "tracks_ever"):
        stored = json.loads((lake / "dashboard" / XSS_PLAYLIST_ID / f"{view}.json").read_bytes())
        answer = call(app, f"/api/playlists/{XSS_PLAYLIST_ID}/views/{view}")
        assert answer.status == 200 and answer.headers["cache-control"] == "no-store"
        assert answer.json() == {
            **{key: stored[key] for key in ("view", "playlist", "description", "columns")},
            "rows": stored["rows"],
            "total_rows": len(stored["rows"]),
            "offset": 0,
            "limit": 1000,
            "next_offset": None,
        }
        rows, offset = [], 0
        while offset is not None:
            url = f"/api/playlists/{XSS_PLAYLIST_ID}/views/{view}?offset={offset}&limit=2"
            status, page = get(app, url)
            assert status == 200 and len(page["rows"]) <= 2
            rows, offset = rows + page["rows"], page["next_offset"]
        assert rows == stored["rows"]


# --- the serving tables -----------------------------------------------------------------------


def expected_entries(lake, playlist_id: str) -> list[dict]:
    songs = by_key(served(lake, constants.SONGS), "song_id")
    albums = by_key(served(lake, constants.ALBUMS), "album_id")
    artists = by_key(served(lake, constants.ARTISTS), "artist_id")
    expected = []
    for entry in served(lake, constants.PLAYLIST_ENTRIES, playlist_id):
        song = songs.get(entry["song_id"]) or {}
        expected.append(
            {
                **{k: v for k, v in entry.items() if k not in ("playlist_id", "snapshot_id")},
                "song_name": song.get("song_name"),
                "explicit": song.get("explicit"),
                "album_id": song.get("album_id"),
                "album_name": albums.get(song.get("album_id"), {}).get("name"),
                "artist_id": song.get("artist_id"),
                "artist_name": artists.get(song.get("artist_id"), {}).get("artist_name"),
            }
        )
    return expected


@pytest.mark.parametrize("playlist_id", [MAIN_PLAYLIST_ID, EDGE_CASES_PLAYLIST_ID])
def test_entries_come_with_song_album_and_artist_names_a_page_at_a_time(app, lake, playlist_id):
    expected = expected_entries(lake, playlist_id)
    pages, offset = [], 0
    while offset is not None:
        status, body = get(app, f"/api/playlists/{playlist_id}/entries?offset={offset}&limit=50")
        assert status == 200
        assert (body["week"], body["limit"], body["offset"]) == (LATEST_WEEK, 50, offset)
        pages.append(body["entries"])
        offset = body["next_offset"]
    assert [len(page) for page in pages[:-1]] == [50] * (len(pages) - 1)
    assert [entry for page in pages for entry in page] == expected
    # Episodes, local files and removed tracks have no song: their names stay null.
    kinds = Counter(entry["item_type"] for entry in expected)
    if playlist_id == EDGE_CASES_PLAYLIST_ID:
        assert kinds.keys() > {"track"}
        assert all(e["song_name"] is None for e in expected if e["item_type"] != "track")


def test_the_payload_names_come_back_as_they_are(app):
    status, body = get(app, f"/api/playlists/{XSS_PLAYLIST_ID}/entries")
    assert status == 200
    named = [e for e in body["entries"] if e["song_name"] == XSS]
    assert named and named[0]["artist_name"] == XSS


def test_a_song_an_album_and_an_artist(app, lake):
    songs = served(lake, constants.SONGS)
    albums = by_key(served(lake, constants.ALBUMS), "album_id")
    artists = by_key(served(lake, constants.ARTISTS), "artist_id")
    song = next(s for s in songs if s["album_id"] and s["artist_id"] and s["song_added"])
    status, body = get(app, f"/api/songs/{song['song_id']}")
    assert status == 200
    assert body == {
        "song": song,
        "album": albums[song["album_id"]],
        "artist": artists[song["artist_id"]],
    }
    album = albums[song["album_id"]]
    assert get(app, f"/api/albums/{album['album_id']}") == (
        200,
        {"album": album, "artist": artists.get(album["artist_id"])},
    )
    artist = artists[song["artist_id"]]
    assert get(app, f"/api/artists/{artist['artist_id']}") == (200, {"artist": artist})


def all_pages(app, url: str, table: str) -> list[dict]:
    rows, after = [], None
    for _ in range(100):
        query = "limit=2" + (f"&after={after}" if after else "")
        status, body = get(app, f"{url}?{query}")
        assert status == 200 and len(body[table]) <= 2
        rows += body[table]
        after = body["after"]
        if after is None:
            return rows
    raise AssertionError("more than 100 pages")


def test_songs_by_album_and_by_artist_and_albums_by_artist(app, lake):
    songs = served(lake, constants.SONGS)
    albums = served(lake, constants.ALBUMS)
    album_counts = Counter(s["album_id"] for s in songs)
    album_id = max(album_counts, key=lambda a: (album_counts[a], a or ""))
    artist_counts = Counter(s["artist_id"] for s in songs)
    artist_id = max(artist_counts, key=lambda a: (artist_counts[a], a or ""))
    assert album_counts[album_id] > 2 and artist_counts[artist_id] > 2  # more than one page

    def key(row):
        return row.get("song_id") or row["album_id"]

    def same(found, expected):
        return sorted(found, key=key) == sorted(expected, key=key)

    found = all_pages(app, f"/api/albums/{album_id}/songs", "songs")
    assert same(found, [s for s in songs if s["album_id"] == album_id])
    found = all_pages(app, f"/api/artists/{artist_id}/songs", "songs")
    assert same(found, [s for s in songs if s["artist_id"] == artist_id])
    album_artist = Counter(a["artist_id"] for a in albums).most_common(1)[0][0]
    found = all_pages(app, f"/api/artists/{album_artist}/albums", "albums")
    assert same(found, [a for a in albums if a["artist_id"] == album_artist])


# --- errors ----------------------------------------------------------------------------------

ERRORS = [
    ("/api/playlists/not-an-id", 400, "must be a Spotify id"),
    (f"/api/playlists/{UNKNOWN_ID}", 404, "no playlist"),
    (f"/api/playlists/{UNKNOWN_ID}/entries", 404, "no playlist"),
    (f"/api/playlists/{SMALL_PLAYLIST_ID}/entries?limit=0", 400, "limit must be"),
    (f"/api/playlists/{SMALL_PLAYLIST_ID}/entries?limit=501", 400, "from 1 to 500"),
    (f"/api/playlists/{SMALL_PLAYLIST_ID}/entries?offset=-1", 400, "offset must be"),
    (f"/api/playlists/{SMALL_PLAYLIST_ID}/entries?limit=ten", 400, "limit must be"),
    # Digits, but not ASCII ones: Arabic-Indic "12", a fullwidth "1".
    (f"/api/playlists/{SMALL_PLAYLIST_ID}/entries?limit=%D9%A1%D9%A2", 400, "limit must be"),
    (f"/api/playlists/{SMALL_PLAYLIST_ID}/entries?offset=%EF%BC%91", 400, "offset must be"),
    (f"/api/playlists/{SMALL_PLAYLIST_ID}/entries?limit=1&limit=2", 400, "more than once"),
    (f"/api/playlists/{SMALL_PLAYLIST_ID}/entries?page=2", 400, "unknown query parameter page"),
    (f"/api/playlists/{SMALL_PLAYLIST_ID}/views/no_such_view", 404, "no view 'no_such_view'"),
    (f"/api/playlists/{SMALL_PLAYLIST_ID}/views/Top-Artists", 400, "not a view name"),
    (f"/api/playlists/{SMALL_PLAYLIST_ID}/views/tracks_ever?limit=1001", 400, "from 1 to 1000"),
    (f"/api/playlists/{SMALL_PLAYLIST_ID}/views/tracks_ever?week=1", 400, "unknown query"),
    (f"/api/playlists/{UNKNOWN_ID}/views/top_artists", 404, "no playlist"),
    ("/api/playlists/%3Cimg%3E/views/top_artists", 400, "must be a Spotify id"),
    (f"/api/songs/{UNKNOWN_ID}", 404, f"no song {UNKNOWN_ID}"),
    ("/api/songs/a%20b", 400, "must be a Spotify id"),
    ("/api/songs/..%2F..%2Fetc%2Fpasswd", 404, "no API route"),
    (f"/api/albums/{UNKNOWN_ID}", 404, "no album"),
    (f"/api/artists/{UNKNOWN_ID}", 404, "no artist"),
    (f"/api/albums/{UNKNOWN_ID}/songs", 404, "no album"),
    (f"/api/artists/{UNKNOWN_ID}/songs", 404, "no artist"),
    (f"/api/artists/{UNKNOWN_ID}/albums", 404, "no artist"),
    (f"/api/artists/{UNKNOWN_ID}/albums?after=a_b", 400, "after must be"),
    (f"/api/artists/{UNKNOWN_ID}/albums?limit=1001", 400, "from 1 to 1000"),
    ("/api/playlist", 404, "no API route /api/playlist"),
    ("/api/", 404, "no API route"),
]


@pytest.mark.parametrize(("url", "status", "message"), ERRORS)
def test_errors_are_json_with_the_right_status(app, url, status, message):
    answer = call(app, url)
    assert answer.status == status
    assert answer.headers["content-type"] == "application/json"
    error = answer.json()["error"]
    assert error["status"] == status and message in error["message"], error


def test_reads_only_get_and_head(app):
    answer = call(app, "/api/playlists", method="POST")
    assert answer.status == 405 and answer.json()["error"]["status"] == 405
    assert "GET" in answer.headers["allow"]
    # The server leaves out a HEAD answer's body.
    assert call(app, "/api/playlists", method="HEAD").status == 200


def test_every_answer_carries_the_security_headers(app):
    for url in ("/", "/api/playlists", f"/api/songs/{UNKNOWN_ID}", "/api/nothing"):
        headers = call(app, url).headers
        assert "script-src 'self'" in headers["content-security-policy"], url
        assert headers["x-content-type-options"] == "nosniff"


def test_before_any_run_the_api_says_what_to_do(tmp_path):
    app = create_app(build_api(WebSettings(deployment=LOCAL, data_dir=tmp_path / "nothing")))
    status, body = get(app, "/api/playlists")
    assert (status, body["playlists"]) == (200, [])
    assert "materialize" in body["note"]
    status, body = get(app, f"/api/playlists/{SMALL_PLAYLIST_ID}/views/top_artists")
    assert status == 404 and "materialize" in body["error"]["message"]
    assert get(app, f"/api/songs/{UNKNOWN_ID}")[0] == 404


# --- both stores alike, and what a request costs in DynamoDB -----------------------------------

ROUTES = [
    "/api/playlists",
    f"/api/playlists/{MAIN_PLAYLIST_ID}",
    f"/api/playlists/{MAIN_PLAYLIST_ID}/entries",
    f"/api/playlists/{EDGE_CASES_PLAYLIST_ID}/entries?offset=5&limit=20",
    f"/api/playlists/{XSS_PLAYLIST_ID}/views/tracks_ever",
    f"/api/playlists/{MAIN_PLAYLIST_ID}/views/tracks_ever?offset=3&limit=5",
]


def test_both_stores_give_the_same_answers(sqlite_api, dynamodb_api, lake):
    sqlite_app, dynamodb_app = create_app(sqlite_api), create_app(dynamodb_api)
    song = served(lake, constants.SONGS)[0]
    urls = ROUTES + [
        f"/api/songs/{song['song_id']}",
        f"/api/albums/{song['album_id']}",
        f"/api/artists/{song['artist_id']}",
        *[url for url, _, _ in ERRORS],
    ]
    for url in urls:
        assert call(sqlite_app, url) == call(dynamodb_app, url), url


class Recorder:
    """Every call the clients make, as ``service:Operation``, with its parameters."""

    def __init__(self, clients):
        self.calls: list[str] = []
        self.parameters: list[tuple[str, dict]] = []
        for client in clients:
            client.meta.events.register("before-parameter-build.*.*", self.record)

    def record(self, params, model, **kwargs):
        call = f"{model.service_model.endpoint_prefix}:{model.name}"
        self.calls.append(call)
        self.parameters.append((call, dict(params)))

    def unregister(self, clients):
        for client in clients:
            client.meta.events.unregister("before-parameter-build.*.*", self.record)


@pytest.fixture
def recorder(dynamodb_api):
    clients = [dynamodb_api.serving.client, dynamodb_api.dashboard.files.client]
    recorder = Recorder(clients)
    yield recorder
    recorder.unregister(clients)


def every_route(app, lake) -> None:
    song = served(lake, constants.SONGS)[0]
    for url in ROUTES + [
        f"/api/playlists/{SMALL_PLAYLIST_ID}",
        f"/api/songs/{song['song_id']}",
        f"/api/albums/{song['album_id']}",
        f"/api/albums/{song['album_id']}/songs",
        f"/api/artists/{song['artist_id']}",
        f"/api/artists/{song['artist_id']}/songs?limit=1",
        f"/api/artists/{song['artist_id']}/albums",
    ]:
        assert call(app, url).status == 200, url


def test_a_request_reads_by_key_or_index_in_batches_never_a_scan(dynamodb_api, lake, recorder):
    app = create_app(dynamodb_api)
    every_route(app, lake)
    assert set(recorder.calls) <= {
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:Query",
        "s3:GetObject",
    }
    # The 100 entries of a page: two version reads, one range query, one batch of songs, one
    # batch of their albums and artists (DynamoDB's batches hold 100 keys).
    recorder.calls.clear()
    assert call(app, f"/api/playlists/{MAIN_PLAYLIST_ID}/entries?limit=100").status == 200
    calls = Counter(recorder.calls)
    # The version is read before and after the entries, to be sure they are of one snapshot.
    assert (calls["dynamodb:GetItem"], calls["dynamodb:Query"]) == (2, 1)
    assert calls["dynamodb:BatchGetItem"] <= 1 + 2  # songs; albums and artists, up to 200 keys


# --- the Lambda handler ------------------------------------------------------------------------


def http_api_event(url: str, method: str = "GET") -> dict:
    """An API Gateway HTTP API event (payload format 2.0) after the JWT authorizer."""
    path, _, query = url.partition("?")
    parameters = dict(urllib.parse.parse_qsl(query))
    return {
        "version": "2.0",
        "routeKey": "GET /api/{proxy+}",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {
            "accept": "application/json",
            "authorization": "Bearer eyJ...",
            "host": "abc123.execute-api.eu-west-1.amazonaws.com",
            "user-agent": "pytest",
            "x-forwarded-for": "203.0.113.7",
            "x-forwarded-port": "443",
            "x-forwarded-proto": "https",
        },
        **({"queryStringParameters": parameters} if parameters else {}),
        "pathParameters": {"proxy": path.removeprefix("/api/")},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "authorizer": {"jwt": {"claims": {"sub": "user", "client_id": "client"}, "scopes": []}},
            "domainName": "abc123.execute-api.eu-west-1.amazonaws.com",
            "domainPrefix": "abc123",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "pytest",
            },
            "requestId": "request-1",
            "routeKey": "GET /api/{proxy+}",
            "stage": "$default",
            "time": "09/Nov/2026:06:00:00 +0000",
            "timeEpoch": 1794204000000,
        },
        "isBase64Encoded": False,
    }


def invoke(event: dict) -> tuple[int, dict, object]:
    response = lambda_handler.handler(event, None)
    body = response["body"]
    if response.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    return response["statusCode"], response["headers"], json.loads(body) if body else None


def test_the_lambda_handler_answers_api_gateway_events(aws_settings, dynamodb_api, monkeypatch):
    monkeypatch.setattr(lambda_handler, "_adapter", None)  # built from this environment
    status, headers, body = invoke(http_api_event("/api/playlists"))
    assert status == 200 and headers["content-type"] == "application/json"
    assert {p["playlist"]: p["name"] for p in body["playlists"]}[XSS_PLAYLIST_ID] == XSS
    assert "default-src 'none'" in headers["content-security-policy"]

    direct = create_app(dynamodb_api)
    for url in [*ROUTES, f"/api/playlists/{SMALL_PLAYLIST_ID}/entries?limit=3&offset=2"]:
        status, _, body = invoke(http_api_event(url))
        assert (status, body) == (200, call(direct, url).json()), url

    for url, expected_status, message in ERRORS[:6]:
        status, _, body = invoke(http_api_event(url))
        assert status == expected_status and message in body["error"]["message"], url
    status, _, body = invoke(http_api_event("/api/playlists", method="DELETE"))
    assert status == 405 and body["error"]["status"] == 405


def resources_of(call: str, parameters: dict) -> list[str]:
    """The ARNs one recorded call reads."""
    table_arn = f"arn:aws:dynamodb:{REGION}:123456789012:table/"
    if call == "s3:GetObject":
        return [f"arn:aws:s3:::{parameters['Bucket']}/{parameters['Key']}"]
    if call == "dynamodb:BatchGetItem":
        return [table_arn + name for name in parameters["RequestItems"]]
    index = f"/index/{parameters['IndexName']}" if "IndexName" in parameters else ""
    return [table_arn + parameters["TableName"] + index]


def test_the_stacks_role_grants_every_read_the_api_makes(dynamodb_api, lake, recorder):
    every_route(create_app(dynamodb_api), lake)
    values = {
        "AWS::Partition": "aws",
        "AWS::Region": REGION,
        "AWS::AccountId": "123456789012",
        "TablePrefix": WEB_TABLE_PREFIX,
        "BucketName": WEB_BUCKET,
        "LakePrefix": WEB_S3_PREFIX,
    }

    def resolved(resource) -> str:
        if isinstance(resource, dict) and "Fn::GetAtt" in resource:  # the function's log group
            return "arn:aws:logs:*"
        text = resource["Fn::Sub"] if isinstance(resource, dict) else resource
        for name, value in values.items():
            text = text.replace(f"${{{name}}}", value)
        return text

    grants = [
        (action, resolved(resource))
        for statement in role_statements(load_template())
        for action in statement["Action"]
        for resource in (
            statement["Resource"]
            if isinstance(statement["Resource"], list)
            else [statement["Resource"]]
        )
    ]
    assert recorder.parameters
    for call_name, parameters in recorder.parameters:
        for arn in resources_of(call_name, parameters):
            assert any(
                granted == call_name and fnmatch.fnmatchcase(arn, pattern)
                for granted, pattern in grants
            ), (call_name, arn)


READ_ONLY_READER = """
import sys
from pathlib import Path
from spotify_assets.web.app import create_app
from spotify_assets.web.settings import LOCAL, WebSettings, build_api
from spotify_assets_tests.test_web_api import every_route

lake = Path(sys.argv[1])
every_route(create_app(build_api(WebSettings(deployment=LOCAL, data_dir=lake))), lake)
print("every route answered")
"""


def test_a_reader_on_a_read_only_mount_answers_every_route(lake, tmp_path):
    """The data dir mounted read-only (as a reader that is another user would find it): SQLite
    must not need to create anything beside the file."""
    if subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode:
        pytest.skip("no user and mount namespaces here")
    copy = tmp_path / "data"
    shutil.copytree(lake, copy)
    command = (
        f"mount --bind -o ro {shlex.quote(str(copy))} {shlex.quote(str(copy))} && "
        f"{shlex.quote(sys.executable)} -c {shlex.quote(READ_ONLY_READER)} {shlex.quote(str(copy))}"
    )
    result = subprocess.run(
        ["unshare", "-rm", "sh", "-c", command], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "every route answered" in result.stdout
