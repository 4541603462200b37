"""``spotify-assets playlists``: what a user reads. Each playlist's name beside its id, sorted by
name, from the replay recordings or the stored raw snapshots; never a call to Spotify; and
``--partitions`` keys alone on stdout, for shell loops."""

import datetime as dt
import json
import re
import sqlite3
import sys

import pytest

from spotify_assets import cli, cli_playlists, constants
from spotify_assets.cli import main
from spotify_assets.cli_playlists import display_width, printable
from spotify_assets.io_managers.serving import SQLiteServingStore
from spotify_assets.sources import LiveSource
from spotify_assets.sources.sample_generator import SAMPLE_WEEKS

EDGE_CASES = 'Edge Cases, "Odd" Ones ✨ 日本語 👩\u200d🎤🇯🇵'
# The sample playlists by name: every one recorded over the same ten weeks.
SAMPLE_BY_NAME = [
    ("2ZO3bH9W1OjLcL0oNrTC6q", EDGE_CASES),
    ("1zhBYfZpVwTT8hOGLgMJvk", "Road Trip 2026 (collab)"),
    ("5UoXmz9Ih7BMj3N8lyfB0c", "Sunday Morning"),
    ("6nKtsSSFwMRYX5hRaAXp7h", "Throwbacks Archive"),
    ("4q0xVAtAY3eZ8QdD5I84BJ", "Weekly Rotation"),
]
SPAN = "2026-09-07 .. 2026-11-09 (10 weeks)"
LIVE_IDS = ["7aaaaaaaaaaaaaaaaaaaaa", "3bbbbbbbbbbbbbbbbbbbbb", "5ccccccccccccccccccccc"]


@pytest.fixture
def replay(monkeypatch, tmp_path):
    """The default deployment: the sample recordings, an empty data dir, no Spotify."""
    for variable in (
        constants.ENV_DEPLOYMENT,
        constants.ENV_REPLAY_DIR,
        constants.ENV_PLAYLISTS,
        "SPOTIFY_CLIENT_ID",
        "SPOTIFY_CLIENT_SECRET",
        "SPOTIFY_REFRESH_TOKEN",
    ):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv(constants.ENV_DATA_DIR, str(tmp_path / "data"))
    return tmp_path / "data"


@pytest.fixture
def live(replay, monkeypatch):
    """The live source configured (credentials and three playlists), with any call to Spotify
    failing the test."""
    for variable, value in {
        "SPOTIFY_CLIENT_ID": "client",
        "SPOTIFY_CLIENT_SECRET": "secret",
        "SPOTIFY_REFRESH_TOKEN": "token",
        constants.ENV_PLAYLISTS: ",".join(f"spotify:playlist:{p}" for p in LIVE_IDS),
        "SPOTIFY_API_BASE_URL": "http://127.0.0.1:9/v1",
        "SPOTIFY_ACCOUNTS_BASE_URL": "http://127.0.0.1:9",
    }.items():
        monkeypatch.setenv(variable, value)

    def no_spotify(self):
        raise AssertionError("listing playlists called Spotify")

    monkeypatch.setattr(LiveSource, "reader", no_spotify)
    return replay


def store_raw_snapshot(data_dir, playlist_id: str, week: str, name: str) -> None:
    folder = data_dir / "raw" / "playlist_json" / f"week={week}" / f"playlist={playlist_id}"
    folder.mkdir(parents=True)
    document = {"id": playlist_id, "name": name, "items": {"items": [], "total": 0}}
    (folder / "playlist.json").write_text(json.dumps(document))


def run_cli(capsys, *args: str) -> tuple[int, list[str], list[str]]:
    code = main(["playlists", *args])
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err.splitlines()


def test_playlists_prints_each_name_beside_its_id_sorted_by_name(replay, capsys):
    code, out, err = run_cli(capsys)
    assert (code, err) == (0, [])
    # The widest name sets the column; the weeks line up after it in a terminal, where the
    # edge-case name's CJK characters and emoji take two columns each.
    assert display_width(EDGE_CASES) == 37
    assert out == [
        f"{playlist_id}  {name}{' ' * (37 - display_width(name))}  {SPAN}"
        for playlist_id, name in SAMPLE_BY_NAME
    ]
    assert out[1] == f"1zhBYfZpVwTT8hOGLgMJvk  Road Trip 2026 (collab){' ' * 14}  {SPAN}"


def test_partitions_prints_keys_alone_on_stdout_and_names_on_stderr(replay, capsys):
    code, out, err = run_cli(capsys, "--partitions")
    assert code == 0
    # Oldest week first, for a backfill in chronological order.
    assert out == [f"{p}|{week}" for week in SAMPLE_WEEKS for p, _ in SAMPLE_BY_NAME]
    # What `for key in $(spotify-assets playlists --partitions)` iterates over: the keys.
    assert all(re.fullmatch(r"[0-9A-Za-z]{22}\|\d{4}-\d{2}-\d{2}", key) for key in out)
    assert err == [f"# {p}  {name}" for p, name in SAMPLE_BY_NAME]


def test_live_playlists_without_a_stored_snapshot_are_listed_by_id_alone(live, capsys):
    code, out, err = run_cli(capsys)
    assert (code, err) == (0, [])
    assert out == [f"{p}  live from Spotify" for p in sorted(LIVE_IDS)]


def test_live_playlists_take_their_names_from_the_latest_stored_snapshot(live, capsys):
    store_raw_snapshot(live, LIVE_IDS[0], "2026-10-26", "the old name")
    store_raw_snapshot(live, LIVE_IDS[0], "2026-11-02", "zebra songs")
    store_raw_snapshot(live, LIVE_IDS[1], "2026-10-26", "Apples")
    code, out, _ = run_cli(capsys)
    assert code == 0
    assert out == [
        f"{LIVE_IDS[1]}  Apples       live from Spotify",
        f"{LIVE_IDS[0]}  zebra songs  live from Spotify",
        f"{LIVE_IDS[2]}               live from Spotify",  # no name known: after the others
    ]


def test_live_partitions_are_the_latest_completed_week(live, monkeypatch, capsys):
    store_raw_snapshot(live, LIVE_IDS[2], "2026-11-02", "Mornings")
    tuesday = dt.datetime(2026, 11, 17, 9, tzinfo=dt.UTC)
    monkeypatch.setattr(cli_playlists, "utc_now", lambda: tuesday)
    code, out, err = run_cli(capsys, "--partitions")
    assert code == 0
    ordered = [LIVE_IDS[2], LIVE_IDS[1], LIVE_IDS[0]]  # the named one, then by id
    assert out == [f"{p}|2026-11-09" for p in ordered]
    assert err == [f"# {LIVE_IDS[2]}  Mornings", f"# {LIVE_IDS[1]}", f"# {LIVE_IDS[0]}"]


def test_no_playlists_configured_says_where_they_come_from(replay, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(constants.ENV_REPLAY_DIR, str(tmp_path / "no recordings"))
    code, out, err = run_cli(capsys)
    assert (code, out) == (0, [])
    assert err == [
        "no playlists configured: set SPOTIFY_PLAYLISTS, or record some under "
        "SPOTIFY_REPLAY_DIR (<dir>/<playlist id>/<YYYY-MM-DD>.json)"
    ]


def test_a_name_prints_on_one_line_without_control_characters():
    assert printable("Late\nNight\t\x1b[31mMix\x07") == "Late Night [31mMix"
    assert printable(None) == ""
    assert display_width("abc") == 3
    assert display_width("日本") == 4
    assert display_width("e\u0301") == 1  # a combining accent takes no column


def test_the_command_reads_the_settings_of_dot_env_as_dg_does(tmp_path, monkeypatch, capsys):
    # Undone after the test, like every setting the file brings.
    monkeypatch.setenv(constants.ENV_PLAYLISTS, "")
    (tmp_path / ".env").write_text(f"{constants.ENV_PLAYLISTS}=4q0xVAtAY3eZ8QdD5I84BJ\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["spotify-assets", "playlists", "--partitions"])
    assert cli.console() == 0
    keys = capsys.readouterr().out.split()
    assert keys == [f"4q0xVAtAY3eZ8QdD5I84BJ|{week}" for week in SAMPLE_WEEKS]


def test_names_come_first_from_the_serving_store(live, capsys):
    store_raw_snapshot(live, LIVE_IDS[0], "2026-10-26", "the name of an older snapshot")
    SQLiteServingStore(str(live / constants.SQLITE_FILE_NAME)).clear()  # its tables, empty
    with sqlite3.connect(live / constants.SQLITE_FILE_NAME) as database:
        database.execute(
            "INSERT INTO playlists (playlist_id, name) VALUES (?, ?)", (LIVE_IDS[0], "Served")
        )
    code, out, _ = run_cli(capsys)
    assert code == 0 and out[0] == f"{LIVE_IDS[0]}  Served  live from Spotify"
