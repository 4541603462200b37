"""The local server's edges, over real HTTP on 127.0.0.1: it answers only for its own hosts (DNS
rebinding), a burst of requests on a big playlist reads each small file once and never a raw
snapshot, long views come a page at a time, and slow clients are cut off."""

import concurrent.futures
import http.client
import json
import socket
import threading
import time
import tracemalloc
import urllib.request

import pytest

from spotify_assets import constants
from spotify_assets.web import server
from spotify_assets.web.api import ReadApi
from spotify_assets.web.app import create_app
from spotify_assets.web.cli import served_hosts
from spotify_assets.web.dashboard_files import DashboardFiles, LocalFiles, SharedReads
from spotify_assets.web.serving_reader import SQLiteServingReader
from spotify_assets.web.settings import LOCAL, WebSettings, build_api
from spotify_assets_tests.web_support import (
    BIG_PLAYLIST_ID,
    LATEST_WEEK,
    big_lake,
    raw_snapshot,
    serving,
    web_lake,
)

BURST = 20
# What the server and its clients may hold at once in a burst on the big playlist: a page of a
# view (1,000 rows) per request, parsed then encoded, comes to some 8 MB. Parsing the playlist's
# raw snapshot (10 MB) once takes 47 MB; the old server parsed it for every request (0.9 GB).
BURST_MEMORY = 24 * 2**20


def request(base_url: str, path: str, host: str | None) -> tuple[int, dict]:
    """GET ``path`` with ``host`` as the Host header (None: no Host header at all)."""
    connection = http.client.HTTPConnection(base_url.removeprefix("http://"), timeout=10)
    try:
        connection.putrequest("GET", path, skip_host=True)
        if host is not None:
            connection.putheader("Host", host)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


@pytest.fixture(scope="module")
def local_site(tmp_path_factory):
    """The sample lake served as `spotify-assets serve` serves it on 127.0.0.1."""
    api = build_api(WebSettings(deployment=LOCAL, data_dir=web_lake(tmp_path_factory)))
    with serving(create_app(api, hosts=served_hosts("127.0.0.1"))) as url:
        yield url


@pytest.mark.parametrize(
    "host", ["evil.example", "attacker.com:18000", "", "127.0.0.1.evil.example"]
)
def test_a_request_for_another_host_is_refused(local_site, host):
    status, body = request(local_site, "/api/playlists", host)
    assert (status, body["error"]["status"]) == (400, 400)
    assert "answers requests for 127.0.0.1, [::1], localhost only" in body["error"]["message"]


def test_a_request_without_a_host_is_refused(local_site):
    # HTTP/1.1 requires the header (the server refuses its absence itself); HTTP/1.0 does not.
    address = local_site.removeprefix("http://").split(":")
    with socket.create_connection((address[0], int(address[1])), timeout=10) as client:
        client.sendall(b"GET /api/playlists HTTP/1.0\r\n\r\n")
        answer = b"".join(iter(lambda: client.recv(65536), b""))
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400") and json.loads(body)["error"]["status"] == 400


def test_a_request_for_the_servers_own_host_is_answered(local_site):
    port = local_site.rsplit(":", 1)[1]
    for host in ["localhost", f"127.0.0.1:{port}", "[::1]", f"[::1]:{port}", "LocalHost"]:
        status, body = request(local_site, "/api/playlists", host)
        assert status == 200 and body["playlists"], host


def test_the_hosts_follow_the_address_served_on():
    assert served_hosts("127.0.0.1") == ["127.0.0.1", "[::1]", "localhost"]
    assert served_hosts("::") == ["127.0.0.1", "[::1]", "[::]", "localhost"]
    assert "dashboard.lan" in served_hosts("0.0.0.0", ["Dashboard.LAN"])


# --- a burst on a big playlist ---------------------------------------------------------------


class CountedFiles(LocalFiles):
    """The local files, counting the reads of each path; every read waits for ``gate`` (as if
    the disk were slow) so that a burst's requests all want the files at the same time."""

    def __init__(self, root):
        super().__init__(root)
        self.reads: dict[str, int] = {}
        self.gate = threading.Event()
        self._lock = threading.Lock()

    def read(self, relative_path: str) -> bytes | None:
        with self._lock:
            self.reads[relative_path] = self.reads.get(relative_path, 0) + 1
        assert self.gate.wait(30)
        time.sleep(0.2)
        return super().read(relative_path)


class CountedRequests:
    """ASGI middleware counting the requests that reached the app."""

    def __init__(self, app):
        self.app = app
        self.count = 0

    async def __call__(self, scope, receive, send):
        self.count += scope["type"] == "http"
        await self.app(scope, receive, send)


def test_a_cold_burst_reads_each_file_once_and_never_a_raw_snapshot(tmp_path_factory):
    lake = big_lake(tmp_path_factory)
    files = CountedFiles(lake)
    api = ReadApi(SQLiteServingReader(lake / constants.SQLITE_FILE_NAME), DashboardFiles(files))
    app = CountedRequests(create_app(api, hosts=served_hosts("127.0.0.1")))
    view = f"/api/playlists/{BIG_PLAYLIST_ID}/views/tracks_ever?offset=1500"
    urls = ["/api/playlists", view] * (BURST // 2)

    def get(path):
        with urllib.request.urlopen(base_url + path, timeout=60) as answer:
            return answer.read()

    with serving(app) as base_url, concurrent.futures.ThreadPoolExecutor(BURST) as pool:
        tracemalloc.start()
        try:
            bodies = [pool.submit(get, url) for url in urls]
            deadline = time.monotonic() + 30
            while app.count < BURST:
                assert time.monotonic() < deadline, f"{app.count} requests arrived"
                time.sleep(0.01)
            files.gate.set()
            bodies = [body.result() for body in bodies]
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    assert all(body == bodies[index % 2] for index, body in enumerate(bodies))
    listing, page = json.loads(bodies[0]), json.loads(bodies[1])
    names = {p["playlist"]: p["name"] for p in listing["playlists"]}
    assert names == {BIG_PLAYLIST_ID: "Synthetic benchmark (5,000 entries)"}
    assert (page["offset"], len(page["rows"]), page["next_offset"]) == (1500, 1000, 2500)
    assert raw_snapshot(lake, BIG_PLAYLIST_ID, LATEST_WEEK).is_file()
    assert not [path for path in files.reads if path.startswith(f"{constants.RAW}/")]
    tracks_ever = [f"{BIG_PLAYLIST_ID}/tracks_ever{n}.json" for n in ("", ".1000", ".2000")]
    assert files.reads == {"dashboard/index.json": 1, **{f"dashboard/{p}": 1 for p in tracks_ever}}
    assert peak < BURST_MEMORY, peak


def test_shared_reads_read_once_for_concurrent_callers_and_keep_only_what_they_are_told():
    gate, reads = threading.Event(), []

    def read(key):
        reads.append(key)
        assert gate.wait(10)
        return f"value of {key}"

    shared = SharedReads(read)
    with concurrent.futures.ThreadPoolExecutor(BURST) as pool:
        values = [pool.submit(shared.get, "a") for _ in range(BURST)]
        time.sleep(0.3)  # every caller in, waiting for the one read
        gate.set()
        assert {value.result() for value in values} == {"value of a"}
    assert reads == ["a"]
    shared.get("a")
    assert reads == ["a", "a"]  # kept for no time: read again
    kept = SharedReads(read, keep_for=60)
    kept.get("b"), kept.get("b")
    assert reads == ["a", "a", "b"]

    def fail(key):
        raise OSError("the disk is gone")

    failing = SharedReads(fail, keep_for=60)
    with pytest.raises(OSError):
        failing.get("c")
    failing.read = read
    assert failing.get("c") == "value of c"  # a failure is not kept


def test_a_long_view_comes_a_page_at_a_time(tmp_path_factory):
    lake = big_lake(tmp_path_factory)
    stored = [
        json.loads(path.read_bytes())
        for path in sorted((lake / "dashboard" / BIG_PLAYLIST_ID).glob("tracks_ever*.json"))
    ]
    total = stored[0]["total_rows"]
    assert total > 3000 and len(stored) == -(-total // 1000)
    every_row = [row for page in sorted(stored, key=lambda p: p["offset"]) for row in page["rows"]]
    api = build_api(WebSettings(deployment=LOCAL, data_dir=lake))
    with serving(create_app(api, hosts=served_hosts("127.0.0.1"))) as url:
        base = f"{url}/api/playlists/{BIG_PLAYLIST_ID}/views/tracks_ever"
        rows, offset, pages = [], 0, 0
        while offset is not None:
            with urllib.request.urlopen(f"{base}?offset={offset}") as answer:
                page = json.load(answer)
            assert page["limit"] == 1000 and page["total_rows"] == total
            rows, offset, pages = rows + page["rows"], page["next_offset"], pages + 1
        assert rows == every_row and pages == len(stored)
        with urllib.request.urlopen(f"{base}?offset={total + 5}") as answer:
            past_the_end = json.load(answer)
        assert (past_the_end["rows"], past_the_end["next_offset"]) == ([], None)


# --- slow clients ----------------------------------------------------------------------------


def test_slow_and_silent_clients_are_cut_off_and_others_still_answered(local_site, monkeypatch):
    monkeypatch.setattr(server.RequestTimeoutProtocol, "request_timeout", 1.0)
    host, port = local_site.removeprefix("http://").split(":")
    half_sent = []
    for number in range(200):
        client = socket.create_connection((host, int(port)), timeout=10)
        # Every other one sends half a request head; the others nothing at all.
        if number % 2:
            client.sendall(b"GET /api/playlists HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        half_sent.append(client)
    try:
        started = time.monotonic()
        assert request(local_site, "/api/playlists", "127.0.0.1")[0] == 200
        for client in half_sent:
            assert client.recv(1024) == b""  # closed by the server, with nothing sent
        assert time.monotonic() - started < 5
    finally:
        for client in half_sent:
            client.close()


def test_a_request_head_too_large_is_refused(local_site):
    host, port = local_site.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as client:
        client.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"x" * 20_000)
        answer = b"".join(iter(lambda: client.recv(65536), b""))
    assert answer.startswith(b"HTTP/1.1 400")
