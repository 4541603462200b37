"""``spotify-assets export`` on the sample weeks as Dagster materialized them: the exact text of
one week in each format, the latest and the emptied week, the edge cases, and the errors."""

import json

import pytest
import sqlglot

from spotify_assets import constants
from spotify_assets.cli import main
from spotify_assets.cli_export import snapshot_queries, weeks_query
from spotify_assets.sources.sample_generator import (
    EDGE_CASES_PLAYLIST_ID,
    SAMPLE_WEEKS,
    SMALL_EMPTY_WEEK,
    SMALL_PLAYLIST_ID,
)
from spotify_assets.transforms.export import (
    ExportedEntry,
    Snapshot,
    as_csv,
    as_json,
    as_m3u,
    local_file_artists,
)
from spotify_assets_tests.sql_lakes import sample_lake

WEEK = SAMPLE_WEEKS[0]  # "Sunday Morning": eight tracks, two of them by two artists

EXPECTED_CSV = (
    "position,name,artists,uri\r\n"
    '0,Stand Still after the Satellite - Demo,"The Pale Waves, Theo Varga",'
    "spotify:track:783W98ixXlwbkpWuVYRpwv\r\n"
    "1,Silver Letter,Milo & the Islands,spotify:track:37J4kO8VfDYO5czfhHBnbD\r\n"
    "2,Island - Radio Edit,Silas Ishikawa,spotify:track:1zl0nqdk2frp8fCfFBRoqA\r\n"
    "3,Signal,The Pale Waves,spotify:track:1D4dDqLo6sSqMNFXEBlztP\r\n"
    "4,Horizon,The Midnight Waves,spotify:track:46DXG3OJHJRKaARynTqW07\r\n"
    "5,Violet Night - Demo,Leon Delacroix,spotify:track:3ggBqhULrvFfoag3GnanZX\r\n"
    "6,Fall Apart on the Garden,The Pale Embers,spotify:track:7GhAJ6GejfT7p8BijlsDjQ\r\n"
    '7,Summer,"Dario & the Lights, Leon Delacroix",spotify:track:0LnmPWzxLg91hDHbM2gi8p\r\n'
)

EXPECTED_M3U = """\
#EXTM3U
#PLAYLIST:Sunday Morning
#EXTINF:244,The Pale Waves, Theo Varga - Stand Still after the Satellite - Demo
spotify:track:783W98ixXlwbkpWuVYRpwv
#EXTINF:176,Milo & the Islands - Silver Letter
spotify:track:37J4kO8VfDYO5czfhHBnbD
#EXTINF:244,Silas Ishikawa - Island - Radio Edit
spotify:track:1zl0nqdk2frp8fCfFBRoqA
#EXTINF:216,The Pale Waves - Signal
spotify:track:1D4dDqLo6sSqMNFXEBlztP
#EXTINF:173,The Midnight Waves - Horizon
spotify:track:46DXG3OJHJRKaARynTqW07
#EXTINF:143,Leon Delacroix - Violet Night - Demo
spotify:track:3ggBqhULrvFfoag3GnanZX
#EXTINF:293,The Pale Embers - Fall Apart on the Garden
spotify:track:7GhAJ6GejfT7p8BijlsDjQ
#EXTINF:326,Dario & the Lights, Leon Delacroix - Summer
spotify:track:0LnmPWzxLg91hDHbM2gi8p
"""


@pytest.fixture(scope="module")
def lake_dir(tmp_path_factory):
    return sample_lake(tmp_path_factory)


@pytest.fixture
def local_lake(lake_dir, monkeypatch):
    monkeypatch.delenv(constants.ENV_DEPLOYMENT, raising=False)
    monkeypatch.setenv(constants.ENV_DATA_DIR, str(lake_dir))
    return lake_dir


def export(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["export", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_sample_week_exports_exactly_as_csv_and_m3u(local_lake, capsys):
    for export_format, expected in (("csv", EXPECTED_CSV), ("m3u", EXPECTED_M3U)):
        code, out, _ = export(
            capsys, "--playlist", SMALL_PLAYLIST_ID, "--week", WEEK, "--format", export_format
        )
        assert (code, out) == (0, expected), export_format


def test_a_sample_week_exports_as_json_with_the_playlist_and_its_version(local_lake, capsys):
    code, out, _ = export(
        capsys, "--playlist", SMALL_PLAYLIST_ID, "--week", WEEK, "--format", "json"
    )
    document = json.loads(out)
    assert code == 0
    assert {key: document[key] for key in ("playlist", "week", "name", "snapshot_id")} == {
        "playlist": SMALL_PLAYLIST_ID,
        "week": WEEK,
        "name": "Sunday Morning",
        "snapshot_id": "AAAAehRMnwyKPPYQJiLd2XYmx6TE5hru",
    }
    assert document["entries"][7] == {
        "position": 7,
        "name": "Summer",
        "artists": ["Dario & the Lights", "Leon Delacroix"],
        "uri": "spotify:track:0LnmPWzxLg91hDHbM2gi8p",
    }
    # The same entries as the CSV, line for line.
    csv_lines = EXPECTED_CSV.splitlines()[1:]
    assert [entry["position"] for entry in document["entries"]] == list(range(len(csv_lines)))


def test_latest_is_the_newest_week_and_an_emptied_week_exports_no_entries(local_lake, capsys):
    code, out, _ = export(capsys, "--playlist", f"spotify:playlist:{SMALL_PLAYLIST_ID}")
    assert code == 0
    latest = export(capsys, "--playlist", SMALL_PLAYLIST_ID, "--week", SAMPLE_WEEKS[-1])[1]
    assert out == latest
    emptied = SAMPLE_WEEKS[SMALL_EMPTY_WEEK]
    code, out, _ = export(capsys, "--playlist", SMALL_PLAYLIST_ID, "--week", emptied)
    assert (code, out) == (0, "position,name,artists,uri\r\n")
    code, out, _ = export(
        capsys, "--playlist", SMALL_PLAYLIST_ID, "--week", emptied, "--format", "json"
    )
    assert (json.loads(out)["name"], json.loads(out)["entries"]) == ("Sunday Morning", [])


def test_the_output_file_gets_the_exact_bytes(local_lake, capsys, tmp_path):
    output = tmp_path / "sunday.csv"
    code, out, err = export(
        capsys, "--playlist", SMALL_PLAYLIST_ID, "--week", WEEK, "--output", str(output)
    )
    assert (code, out) == (0, "")
    assert output.read_bytes() == EXPECTED_CSV.encode("utf-8")
    assert f"8 entries of playlist {SMALL_PLAYLIST_ID}, week {WEEK}" in err


def test_the_edge_cases_playlist_keeps_every_position(local_lake, capsys):
    week = SAMPLE_WEEKS[-1]
    code, out, _ = export(
        capsys, "--playlist", EDGE_CASES_PLAYLIST_ID, "--week", week, "--format", "json"
    )
    entries = json.loads(out)["entries"]
    assert code == 0
    assert [entry["position"] for entry in entries] == list(range(len(entries)))
    [local] = [e for e in entries if (e["uri"] or "").startswith("spotify:local:")]
    assert local["artists"] == ["星野ひかり"]  # from the URI: local files credit no Spotify artist
    assert any(e["uri"] is None and e["name"] is None for e in entries)  # unavailable: kept
    assert any("\n" in (e["name"] or "") for e in entries)  # names as Spotify has them
    m3u = export(capsys, "--playlist", EDGE_CASES_PLAYLIST_ID, "--week", week, "--format", "m3u")
    lines = m3u[1].splitlines()
    # One line per directive, URI and comment: newlines in names are flattened.
    assert len(lines) == 2 + sum(2 if e["uri"] else 1 for e in entries)
    assert all(line.startswith(("#", "spotify:")) for line in lines)


def test_a_playlist_or_week_the_lake_lacks_is_an_error_naming_the_weeks(local_lake, capsys):
    code, out, err = export(capsys, "--playlist", "0000000000000000000000")
    assert (code, out) == (2, "")
    assert "the lake holds no snapshot of playlist '0000000000000000000000'" in err
    code, out, err = export(capsys, "--playlist", SMALL_PLAYLIST_ID, "--week", "2025-01-06")
    assert (code, out) == (2, "")
    assert f"for week 2025-01-06; it has {len(SAMPLE_WEEKS)} weeks, the last:" in err
    assert SAMPLE_WEEKS[-1] in err


def test_the_export_queries_are_the_same_text_on_athena():
    for query in (weeks_query("x'y"), *snapshot_queries("x'y", WEEK).values()):
        sqlglot.parse_one(query, read="trino")
        assert "'x''y'" in query


def test_m3u_and_csv_of_what_cannot_be_played():
    snapshot = Snapshot(
        playlist="p",
        week=WEEK,
        name="Line\nbreak",
        snapshot_id=None,
        entries=[
            ExportedEntry(0, None, [], None),
            ExportedEntry(1, "Demo", local_file_artists("spotify:local:Me+%26+You::Demo:127"),
                          "spotify:local:Me+%26+You::Demo:127", 127_000),
            ExportedEntry(2, "A\r\nB", [], "spotify:episode:e1"),
        ],
    )  # fmt: skip
    assert as_m3u(snapshot) == (
        "#EXTM3U\n#PLAYLIST:Line break\n# 0: no longer on Spotify\n"
        "#EXTINF:127,Me & You - Demo\nspotify:local:Me+%26+You::Demo:127\n"
        "#EXTINF:-1,A B\nspotify:episode:e1\n"
    )
    assert as_csv(snapshot).splitlines()[1:] == [
        "0,,,",
        "1,Demo,Me & You,spotify:local:Me+%26+You::Demo:127",
        '2,"A',
        'B",,spotify:episode:e1',
    ]
    assert json.loads(as_json(snapshot))["entries"][0] == {
        "position": 0,
        "name": None,
        "artists": [],
        "uri": None,
    }
