"""The committed sample dataset: regenerable byte for byte, well formed, every edge case present."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from spotify_assets.sources import sample_generator
from spotify_assets.sources.sample_generator import (
    COLLABORATIVE_PLAYLIST_ID,
    EDGE_CASES_PLAYLIST_ID,
    MAIN_PLAYLIST_ID,
    OLDER_SHAPE_PLAYLIST_ID,
    SAMPLE_DATA_DIR,
    SAMPLE_PLAYLIST_IDS,
    SAMPLE_WEEKS,
    SMALL_PLAYLIST_ID,
    VARIOUS_ARTISTS_ID,
    build_sample_dataset,
    churn,
    synthetic_playlist,
    write_sample_dataset,
)

BASE62_ID = re.compile(r"[0-9A-Za-z]{22}")
SCRIPTS = {
    "japanese": re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]"),
    "cyrillic": re.compile(r"[\u0400-\u04ff]"),
    "arabic": re.compile(r"[\u0600-\u06ff]"),
    "greek": re.compile(r"[\u0370-\u03ff]"),
    "hangul": re.compile(r"[\uac00-\ud7af]"),
}
EMOJI = re.compile(r"[\U0001F300-\U0001FAFF]")
FLAG = re.compile(r"[\U0001F1E6-\U0001F1FF]{2}")
ZWJ_SEQUENCE = re.compile(r"[\U0001F300-\U0001FAFF]\ufe0f?\u200d\S")


@pytest.fixture(scope="module")
def committed() -> dict[tuple[str, str], dict]:
    """Every committed file, parsed, keyed by (playlist id, week) from its path."""
    files = {}
    for path in sorted(SAMPLE_DATA_DIR.glob("*/*.json")):
        files[(path.parent.name, path.stem)] = json.loads(path.read_text(encoding="utf-8"))
    return files


def paging(playlist: dict) -> dict:
    return playlist["items"] if "items" in playlist else playlist["tracks"]


def entries(playlist: dict) -> list[dict]:
    return paging(playlist)["items"]


def item(entry: dict) -> dict | None:
    return entry["item"] if "item" in entry else entry["track"]


def all_entries(committed: dict) -> Iterator[tuple[str, str, int, dict]]:
    for (playlist_id, week), playlist in committed.items():
        for position, entry in enumerate(entries(playlist)):
            yield playlist_id, week, position, entry


def all_items(committed: dict) -> Iterator[dict]:
    for *_, entry in all_entries(committed):
        if item(entry) is not None:
            yield item(entry)


def all_names(committed: dict) -> list[str]:
    """Names of playlists, tracks, episodes, albums, shows and artists, and the descriptions."""
    names = []
    for playlist in committed.values():
        names += [playlist["name"], playlist["description"]]
    for obj in all_items(committed):
        names.append(obj["name"])
        container = obj.get("album") or obj.get("show")
        names.append(container["name"])
        names += [artist["name"] for artist in obj.get("artists", [])]
        names += [artist["name"] for artist in container.get("artists", [])]
    return names


# --- the files -------------------------------------------------------------------------------


def test_committed_files_equal_what_the_generator_writes(tmp_path: Path) -> None:
    written = write_sample_dataset(tmp_path)
    generated = {path.relative_to(tmp_path): path.read_bytes() for path in written}
    on_disk = {
        path.relative_to(SAMPLE_DATA_DIR): path.read_bytes()
        for path in SAMPLE_DATA_DIR.rglob("*")
        if path.is_file()
    }
    assert sorted(on_disk) == sorted(generated), (
        "regenerate: python -m " + sample_generator.__name__
    )
    for relative, data in generated.items():
        assert on_disk[relative] == data, f"{relative} differs from the generator's output"


def test_five_playlists_over_ten_mondays(committed: dict) -> None:
    assert SAMPLE_WEEKS[0] == "2026-09-07" and SAMPLE_WEEKS[-1] == "2026-11-09"
    days = [dt.date.fromisoformat(week) for week in SAMPLE_WEEKS]
    assert all(day.weekday() == 0 for day in days)
    assert all(b - a == dt.timedelta(weeks=1) for a, b in zip(days, days[1:], strict=False))
    assert len(set(SAMPLE_PLAYLIST_IDS)) == 5
    for playlist_id in SAMPLE_PLAYLIST_IDS:
        assert BASE62_ID.fullmatch(playlist_id) and not playlist_id.startswith("37i9dQZ")
    assert set(committed) == {(p, w) for p in SAMPLE_PLAYLIST_IDS for w in SAMPLE_WEEKS}
    assert set(build_sample_dataset()) == set(committed)


def test_dataset_stays_small() -> None:
    size = sum(path.stat().st_size for path in SAMPLE_DATA_DIR.glob("*/*.json"))
    assert size < 6.5 * 1024 * 1024


def test_every_file_is_a_complete_playlist_object(committed: dict) -> None:
    for path in sorted(SAMPLE_DATA_DIR.glob("*/*.json")):
        data = path.read_bytes()
        assert data.endswith(b"}\n") and not data.endswith(b"\n\n")
        data.decode("utf-8")
    for (playlist_id, _week), playlist in committed.items():
        assert playlist["id"] == playlist_id
        assert playlist["type"] == "playlist"
        assert playlist["uri"] == f"spotify:playlist:{playlist_id}"
        assert playlist["owner"]["id"] == "sample_owner"
        assert playlist["owner"]["display_name"] == "Sample Owner"
        assert ("items" in playlist) != ("tracks" in playlist)
        page = paging(playlist)
        assert page["total"] == len(page["items"])
        assert (page["offset"], page["next"], page["previous"]) == (0, None, None)
        assert page["href"].startswith(f"https://api.spotify.com/v1/playlists/{playlist_id}/")


def test_playlist_sizes(committed: dict) -> None:
    def totals(playlist_id: str) -> list[int]:
        return [paging(committed[(playlist_id, week)])["total"] for week in SAMPLE_WEEKS]

    assert all(120 <= total <= 180 for total in totals(MAIN_PLAYLIST_ID))
    assert all(30 <= total <= 60 for total in totals(COLLABORATIVE_PLAYLIST_ID))
    assert all(30 <= total <= 60 for total in totals(OLDER_SHAPE_PLAYLIST_ID))
    assert all(25 <= total <= 50 for total in totals(EDGE_CASES_PLAYLIST_ID))
    assert all(total == 0 or 5 <= total <= 15 for total in totals(SMALL_PLAYLIST_ID))


def test_track_objects_are_complete(committed: dict) -> None:
    for obj in all_items(committed):
        if obj["type"] != "track" or obj["is_local"]:
            continue
        assert BASE62_ID.fullmatch(obj["id"])
        assert obj["uri"] == f"spotify:track:{obj['id']}"
        assert 90_000 <= obj["duration_ms"] <= 600_000
        assert obj["album"]["album_type"] in ("album", "single", "compilation")
        assert [image["height"] for image in obj["album"]["images"]] == [640, 300, 64]
        assert obj["artists"] and all(BASE62_ID.fullmatch(a["id"]) for a in obj["artists"])


def test_added_at_is_kept_while_an_entry_stays_and_never_after_its_week(committed: dict) -> None:
    def key(entry: dict) -> str | None:
        obj = item(entry)
        return None if obj is None else obj["id"] or obj["uri"]

    for playlist_id in SAMPLE_PLAYLIST_IDS:
        for week, next_week in zip(SAMPLE_WEEKS, SAMPLE_WEEKS[1:], strict=False):
            next_start = f"{next_week}T00:00:00Z"
            now = entries(committed[(playlist_id, week)])
            assert all(e["added_at"] is None or e["added_at"] < next_start for e in now)
            kept = {(key(e), e["added_at"]) for e in now}
            for entry in entries(committed[(playlist_id, next_week)]):
                if entry["added_at"] is None or entry["added_at"] >= next_start:
                    continue  # added during the next week
                if key(entry) is None:  # a track taken down keeps its entry
                    assert entry["added_at"] in {added_at for _, added_at in kept}
                else:
                    assert (key(entry), entry["added_at"]) in kept, (playlist_id, next_week)


# --- the edge cases --------------------------------------------------------------------------


def test_null_items(committed: dict) -> None:
    nulls = [(p, w) for p, w, _, e in all_entries(committed) if "item" in e and e["item"] is None]
    assert (EDGE_CASES_PLAYLIST_ID, SAMPLE_WEEKS[0]) in nulls


def test_local_files(committed: dict) -> None:
    local = [item(e) for *_, e in all_entries(committed) if e["is_local"]]
    assert local
    for obj in local:
        assert obj["is_local"] is True and obj["id"] is None and obj["album"]["id"] is None
        assert all(artist["id"] is None for artist in obj["artists"])
        assert re.fullmatch(r"spotify:local:[^:]*:[^:]*:[^:]+:\d+", obj["uri"])


def test_episodes(committed: dict) -> None:
    episodes = [obj for obj in all_items(committed) if obj["type"] == "episode"]
    assert len({obj["id"] for obj in episodes}) >= 2
    for obj in episodes:
        assert obj["show"]["type"] == "show"
        assert "album" not in obj and "artists" not in obj


def test_multi_artist_tracks_and_album_artists_that_differ(committed: dict) -> None:
    tracks = [obj for obj in all_items(committed) if obj["type"] == "track" and obj["id"]]
    assert any(len(obj["artists"]) >= 3 for obj in tracks)

    def ids(artists: list[dict]) -> set[str]:
        return {artist["id"] for artist in artists}

    assert any(not ids(obj["artists"]) & ids(obj["album"]["artists"]) for obj in tracks)


def test_compilation_by_various_artists(committed: dict) -> None:
    compilations = [
        obj["album"]
        for obj in all_items(committed)
        if obj.get("album", {}).get("album_type") == "compilation"
    ]
    assert compilations
    assert all(album["artists"][0]["id"] == VARIOUS_ARTISTS_ID for album in compilations)


def test_same_track_at_several_positions(committed: dict) -> None:
    playlist = committed[(EDGE_CASES_PLAYLIST_ID, SAMPLE_WEEKS[0])]
    ids = [item(e)["id"] for e in entries(playlist) if item(e) and item(e)["id"]]
    assert max(ids.count(track_id) for track_id in ids) >= 3


def test_release_dates_of_every_precision(committed: dict) -> None:
    seen = {
        (obj["album"]["release_date"], obj["album"]["release_date_precision"])
        for obj in all_items(committed)
        if obj["type"] == "track" and not obj["is_local"]
    }
    for expected in [("1981", "year"), ("1981-12", "month"), ("1981-12-15", "day")]:
        assert expected in seen
    assert ("0000", "year") in seen
    for release_date, precision in seen:
        length = {"year": 4, "month": 7, "day": 10}[precision]
        assert len(release_date) == length


def test_empty_names(committed: dict) -> None:
    tracks = [obj for obj in all_items(committed) if obj["type"] == "track" and obj["id"]]
    assert any(obj["name"] == "" for obj in tracks)
    assert any(obj["album"]["name"] == "" for obj in tracks)


def test_missing_isrc(committed: dict) -> None:
    tracks = [obj for obj in all_items(committed) if obj["type"] == "track" and obj["id"]]
    assert any(obj["external_ids"] == {} for obj in tracks)
    assert all(set(obj["external_ids"]) <= {"isrc"} for obj in tracks)


@pytest.mark.parametrize("text", [",", '"', "\n", "\r\n"])
def test_awkward_characters_in_names(committed: dict, text: str) -> None:
    assert any(text in name for name in all_names(committed))


def test_non_latin_scripts_and_emoji(committed: dict) -> None:
    names = all_names(committed)
    for script, pattern in SCRIPTS.items():
        assert any(pattern.search(name) for name in names), script
    assert any(EMOJI.search(name) for name in names)
    assert any(FLAG.search(name) for name in names)
    assert any(ZWJ_SEQUENCE.search(name) for name in names)
    edge = committed[(EDGE_CASES_PLAYLIST_ID, SAMPLE_WEEKS[0])]
    assert EMOJI.search(edge["name"]) and SCRIPTS["cyrillic"].search(edge["description"])


def test_entry_with_both_item_and_track(committed: dict) -> None:
    both = [e for *_, e in all_entries(committed) if "item" in e and "track" in e]
    assert both and all(e["item"] == e["track"] and e["item"] is not None for e in both)


def test_older_shape_with_popularity_and_no_popularity_elsewhere(committed: dict) -> None:
    for (playlist_id, _week), playlist in committed.items():
        raw = json.dumps(playlist)
        if playlist_id == OLDER_SHAPE_PLAYLIST_ID:
            assert "items" not in playlist and "tracks" in playlist
            for entry in entries(playlist):
                assert "item" not in entry and "track" in entry
                assert 0 <= entry["track"]["popularity"] <= 100
                assert 0 <= entry["track"]["album"]["popularity"] <= 100
        else:
            assert "tracks" not in playlist and '"popularity"' not in raw


def test_collaborative_playlist(committed: dict) -> None:
    for week in SAMPLE_WEEKS:
        playlist = committed[(COLLABORATIVE_PLAYLIST_ID, week)]
        assert playlist["collaborative"] is True and playlist["public"] is False
        adders = [e["added_by"] for e in entries(playlist)]
        assert None in adders
        assert "" in [adder["id"] for adder in adders if adder]
        assert len({adder["id"] for adder in adders if adder and adder["id"]}) >= 3
        assert None in [e["added_at"] for e in entries(playlist)]


def test_a_week_without_change_keeps_its_snapshot_id(committed: dict) -> None:
    for playlist_id in SAMPLE_PLAYLIST_IDS:
        for week, next_week in zip(SAMPLE_WEEKS, SAMPLE_WEEKS[1:], strict=False):
            before, after = committed[(playlist_id, week)], committed[(playlist_id, next_week)]
            same = before == after
            assert same == (before["snapshot_id"] == after["snapshot_id"]), (playlist_id, week)
    main = [committed[(MAIN_PLAYLIST_ID, week)] for week in SAMPLE_WEEKS]
    assert main[4] == main[5]
    assert sum(a == b for a, b in zip(main, main[1:], strict=False)) == 1


def test_snapshot_ids_tell_contents_apart(committed: dict) -> None:
    by_snapshot: dict[str, dict] = {}
    for playlist in committed.values():
        by_snapshot.setdefault(playlist["snapshot_id"], playlist)
        assert by_snapshot[playlist["snapshot_id"]] == playlist


def test_a_week_where_only_the_description_changed(committed: dict) -> None:
    week = sample_generator.COLLABORATIVE_DESCRIPTION_ONLY_WEEK
    before = committed[(COLLABORATIVE_PLAYLIST_ID, SAMPLE_WEEKS[week - 1])]
    after = committed[(COLLABORATIVE_PLAYLIST_ID, SAMPLE_WEEKS[week])]
    assert entries(before) == entries(after)
    assert before["description"] != after["description"]
    assert before["snapshot_id"] != after["snapshot_id"]


def test_an_empty_playlist_week(committed: dict) -> None:
    empty = committed[(SMALL_PLAYLIST_ID, SAMPLE_WEEKS[sample_generator.SMALL_EMPTY_WEEK])]
    assert paging(empty)["total"] == 0 and paging(empty)["items"] == []
    assert empty["images"] == []


def test_main_playlist_churns(committed: dict) -> None:
    weeks = [committed[(MAIN_PLAYLIST_ID, week)] for week in SAMPLE_WEEKS]
    ids = [[item(e)["id"] for e in entries(playlist)] for playlist in weeks]
    appended = inserted = removed = moved = 0
    for before, after in zip(ids, ids[1:], strict=False):
        added = [i for i in after if i not in before]
        appended += sum(after.index(i) >= len(before) for i in added)
        inserted += sum(after.index(i) < len(before) - 1 for i in added)
        removed += sum(i not in after for i in before)
        moved += [i for i in before if i in after] != [i for i in after if i in before]
    assert appended and inserted and removed and moved


# --- synthetic playlists for benchmarks ------------------------------------------------------


@pytest.fixture(scope="module")
def large() -> dict:
    return synthetic_playlist(10_000)


def test_synthetic_playlist_of_ten_thousand(large: dict) -> None:
    page = large["items"]
    assert page["total"] == len(page["items"]) == 10_000
    tracks = [entry["item"] for entry in page["items"]]
    artists = {artist["id"] for track in tracks for artist in track["artists"]}
    albums = {track["album"]["id"] for track in tracks}
    assert 10_000 / 8 * 0.7 <= len(artists) <= 10_000 / 8 * 1.3
    assert 10_000 / 10 * 0.8 <= len(albums) <= 10_000 / 10 * 1.2
    assert len({track["id"] for track in tracks}) < 10_000  # a few tracks at two positions
    assert '"popularity"' not in json.dumps(tracks[:50])


def test_synthetic_playlist_is_deterministic(large: dict) -> None:
    again = synthetic_playlist(10_000)
    assert again == large
    assert synthetic_playlist(100, seed=1) != synthetic_playlist(100, seed=2)
    assert synthetic_playlist(100, playlist_id="x" * 22)["id"] == "x" * 22
    older = synthetic_playlist(100, shape="tracks")
    assert "tracks" in older and "popularity" in older["tracks"]["items"][0]["track"]


def test_churn_replaces_exactly_that_fraction(large: dict) -> None:
    churned = churn(large, 0.1)
    before, after = large["items"]["items"], churned["items"]["items"]
    assert len(after) == len(before) == churned["items"]["total"]
    changed = [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
    assert len(changed) == 1_000
    assert all(before[i]["item"]["id"] != after[i]["item"]["id"] for i in changed)
    assert churned["snapshot_id"] != large["snapshot_id"]
    assert churn(large, 0.1) == churned
    assert large["items"]["items"] == before  # the input is left alone


def test_churn_of_nothing_is_an_identical_copy() -> None:
    playlist = synthetic_playlist(200, seed=3)
    copy = churn(playlist, 0.0)
    assert copy == playlist and copy is not playlist
    assert copy["snapshot_id"] == playlist["snapshot_id"]


def test_churn_of_the_older_shape() -> None:
    playlist = synthetic_playlist(100, shape="tracks")
    churned = churn(playlist, 0.25, seed=7)
    pairs = zip(playlist["tracks"]["items"], churned["tracks"]["items"], strict=True)
    assert sum(a["track"]["id"] != b["track"]["id"] for a, b in pairs) == 25
    assert all("popularity" in e["track"] for e in churned["tracks"]["items"])
