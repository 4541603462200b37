"""The real Spotify responses in /work/shared/real-playlists (recorded by people outside the
project, provenance in its SOURCES.md) through the transforms and the history views. They are
read from there, never copied into the repository; the tests skip where the folder is absent."""

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from spotify_assets import constants
from spotify_assets.sql.duckdb_lake import connect
from spotify_assets.transforms import flatten_playlist, normalize_playlist, playlist_entries_page
from spotify_assets.transforms.checks import entry_count_problems, primary_key_problems

REAL_PLAYLISTS = Path("/work/shared/real-playlists")
RECORDINGS = sorted(REAL_PLAYLISTS.glob("*/*.json"))
# One playlist recorded in March 2015 and again in November 2017 with market=ES: relinked
# tracks (linked_from) on 1 entry in 2015 ("Honor Him") and on 17 in 2017.
RELINKED_PLAYLIST = "00wHcTN0zQiun4xri9pmvX"
BEFORE, AFTER = "2015-03-16", "2017-10-30"

pytestmark = pytest.mark.skipif(not RECORDINGS, reason=f"no real recordings under {REAL_PLAYLISTS}")


def recording(playlist_id: str, week: str) -> dict:
    return json.loads((REAL_PLAYLISTS / playlist_id / f"{week}.json").read_text(encoding="utf-8"))


def entries(playlist_id: str, week: str) -> list[dict]:
    tables = normalize_playlist(recording(playlist_id, week), week=week)
    return tables["playlist_entries"].to_pylist()


@pytest.mark.parametrize("path", RECORDINGS, ids=[f"{p.parent.name}/{p.stem}" for p in RECORDINGS])
def test_every_real_recording_normalizes_and_passes_the_checks(path):
    document = json.loads(path.read_text(encoding="utf-8"))
    week = path.stem
    tables = normalize_playlist(document, week=week)
    flatten_playlist(document, week=week)
    page = playlist_entries_page(document, week=week)
    assert entry_count_problems(tables["playlist_entries"], page.get("total")) == []
    assert tables["playlist_entries"].num_rows == len(page["items"])
    for name, table in tables.items():
        assert primary_key_problems(name, table) == [], name


def test_a_relinked_entry_is_the_playlists_own_track_with_the_playable_one_beside_it():
    document = recording(RELINKED_PLAYLIST, AFTER)
    relinked_track = document["tracks"]["items"][0]["track"]
    assert relinked_track["linked_from"]["id"] == "3EBjm1pwwtCnaPxofXXMjo"
    tables = normalize_playlist(document, week=AFTER)
    first = tables["playlist_entries"].to_pylist()[0]
    assert (first["song_id"], first["playable_song_id"], first["uri"]) == (
        "3EBjm1pwwtCnaPxofXXMjo",
        "1TNbkNx3UDrQPwQ9FOendz",
        "spotify:track:3EBjm1pwwtCnaPxofXXMjo",
    )
    song = next(s for s in tables["songs"].to_pylist() if s["song_id"] == first["song_id"])
    assert song["url"] == "https://open.spotify.com/track/3EBjm1pwwtCnaPxofXXMjo"
    assert song["song_name"] == "The Medallion"
    relinked = [e for e in tables["playlist_entries"].to_pylist() if e["playable_song_id"]]
    assert len(relinked) == 17


def test_songs_compared_through_linked_from_show_what_really_changed():
    before, after = entries(RELINKED_PLAYLIST, BEFORE), entries(RELINKED_PLAYLIST, AFTER)
    own_before = {e["song_id"] for e in before}
    own_after = {e["song_id"] for e in after}
    assert sorted(e["name"] for e in after if e["song_id"] not in own_before) == [
        "Brothers In Arms",
        "Maximum Effort",
        "The Medallion",
    ]
    assert own_before - own_after == set()

    # The playable ids, which the project keyed songs on before: 17 added and 14 removed.
    playable_before = {e["playable_song_id"] or e["song_id"] for e in before}
    playable_after = {e["playable_song_id"] or e["song_id"] for e in after}
    assert (len(playable_after - playable_before), len(playable_before - playable_after)) == (
        17,
        14,
    )
    # Honouring linked_from in 2017 only gives 4 added and 1 removed: "Honor Him" is relinked
    # in both recordings (7EPc... played as 6fuv...), so it is no change once both are read alike.
    assert (len(own_after - playable_before), len(playable_before - own_after)) == (4, 1)
    assert playable_before - own_after == {"6fuvfAhjJOOKOl5ACcliMG"}


def write_lake(data_dir: Path, playlist_id: str, weeks: list[str]) -> None:
    for week in weeks:
        tables = normalize_playlist(recording(playlist_id, week), week=week)
        for name, table in tables.items():
            folder = (
                data_dir / constants.NORMALIZED / name / f"week={week}" / f"playlist={playlist_id}"
            )
            folder.mkdir(parents=True)
            pq.write_table(table, folder / "part.parquet")


def test_the_history_views_count_a_relink_as_no_change(tmp_path):
    write_lake(tmp_path, RELINKED_PLAYLIST, [BEFORE, AFTER])
    with connect(tmp_path) as connection:
        changes = connection.sql(
            "SELECT added, removed, kept FROM weekly_changes WHERE previous_week IS NOT NULL"
        ).fetchall()
        summary = connection.sql(
            "SELECT entries, added, removed FROM weekly_summary ORDER BY week"
        ).fetchall()
        new_and_dropped = connection.sql(
            "SELECT change, position, song_id FROM new_and_dropped ORDER BY change, position"
        ).fetchall()
    assert changes == [(3, 0, 54)]
    assert summary == [(54, None, None), (57, 3, 0)]
    assert new_and_dropped == [
        ("added", 0, "3EBjm1pwwtCnaPxofXXMjo"),
        ("added", 55, "7Hj2D61IPaPICdGBXFj0cU"),
        ("added", 56, "02wUfYVTM3giVpmVH4ObH6"),
    ]


@pytest.mark.parametrize("path", RECORDINGS, ids=[f"{p.parent.name}/{p.stem}" for p in RECORDINGS])
def test_every_real_recording_has_its_playlists_row(path):
    document = json.loads(path.read_text(encoding="utf-8"))
    [row] = normalize_playlist(document, week=path.stem)["playlists"].to_pylist()
    assert row["total"] == playlist_entries_page(document, week=path.stem)["total"]
    # What the document has, the row has; what it leaves out (recordings of the entries page
    # alone, followers for new apps, a missing display name) is null.
    assert row["name"] == document.get("name")
    assert row["snapshot_id"] == document.get("snapshot_id")
    assert row["owner_id"] == (document.get("owner") or {}).get("id")
    assert row["followers"] == (document.get("followers") or {}).get("total")


def test_the_playlist_snapshots_view_shows_each_recorded_weeks_attributes(tmp_path):
    write_lake(tmp_path, RELINKED_PLAYLIST, [BEFORE, AFTER])
    with connect(tmp_path) as connection:
        rows = connection.sql(
            "SELECT CAST(week AS VARCHAR), name, owner_id, owner_name, followers, total, entries, "
            "snapshot_changed FROM playlist_snapshots ORDER BY week"
        ).fetchall()
    assert rows == [
        (BEFORE, "Movie Soundtrack Masterpieces", "wizzler", None, 574, 54, 54, None),
        (AFTER, "Movie Soundtrack Masterpieces", "wizzler", "Ronald Pompa", 2695, 57, 57, True),
    ]
