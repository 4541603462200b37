"""Every view on the sample weeks (5 playlists x 10 weeks, materialized by Dagster once per
session), row for row against an independent pandas calculation from the same Parquet files."""

import datetime as dt
import decimal
import math

import pandas as pd
import pytest

from spotify_assets.sources.sample_generator import (
    COLLABORATIVE_PLAYLIST_ID,
    EDGE_CASES_PLAYLIST_ID,
    MAIN_PLAYLIST_ID,
    SAMPLE_WEEKS,
    SMALL_EMPTY_WEEK,
    SMALL_PLAYLIST_ID,
)
from spotify_assets.sql import catalog
from spotify_assets.sql.duckdb_lake import PARTITION_TYPES, WEEK_AS_TEXT, connect
from spotify_assets.sql.result import QueryResult
from spotify_assets_tests.sql_lakes import read_lake, sample_lake

HOUR_MS = 3_600_000


def _hours(duration_ms) -> float:
    """Hours to two decimals as the views give them: ROUND(x, 2) on both engines rounds the
    double x * 100 half away from zero, then divides by 100."""
    scaled = decimal.Decimal(float(duration_ms) / HOUR_MS * 100)
    return float(scaled.quantize(decimal.Decimal(1), rounding=decimal.ROUND_HALF_UP)) / 100


@pytest.fixture(scope="module")
def lake_dir(tmp_path_factory):
    return sample_lake(tmp_path_factory)


@pytest.fixture(scope="module")
def lake(lake_dir) -> dict[str, pd.DataFrame]:
    return read_lake(lake_dir)


def _view_rows(lake_dir, partition_types) -> dict[str, list[dict]]:
    with connect(lake_dir, partition_types=partition_types) as connection:
        return {
            name: QueryResult.from_arrow(
                connection.sql(f"SELECT * FROM {name}").to_arrow_table()
            ).records()
            for name in catalog.views()
        }


@pytest.fixture(scope="module")
def view_rows(lake_dir) -> dict[str, list[dict]]:
    return _view_rows(lake_dir, PARTITION_TYPES)


# ------------------------------------------------------------------------------------------
# Comparing rows: values made plain (ISO dates and times, floats to 9 places), order ignored.


def _plain(value):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, dt.datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    if isinstance(value, float):
        return round(value, 9)
    return value


def _normalized(rows: list[dict]) -> list[dict]:
    plain = [{key: _plain(value) for key, value in row.items()} for row in rows]
    return sorted(plain, key=lambda row: [str(row[key]) for key in sorted(row)])


def assert_same_rows(actual: list[dict], expected: list[dict]):
    assert expected, "the expectation has no rows: the test would prove nothing"
    assert [sorted(row) for row in actual[:1]] == [sorted(row) for row in expected[:1]]
    actual, expected = _normalized(actual), _normalized(expected)
    assert len(actual) == len(expected)
    for actual_row, expected_row in zip(actual, expected, strict=True):
        assert actual_row == expected_row


# ------------------------------------------------------------------------------------------
# The independent calculation: plain pandas and Python sets over the Parquet files.


def _snapshots(lake) -> dict[str, list[str]]:
    """Each playlist's weeks with rows in the lake, oldest first."""
    entries = lake["playlist_entries"]
    return {p: sorted(g["week"].unique()) for p, g in entries.groupby("playlist")}


def _previous(lake) -> dict[tuple[str, str], str | None]:
    return {
        (playlist, week): weeks[index - 1] if index else None
        for playlist, weeks in _snapshots(lake).items()
        for index, week in enumerate(weeks)
    }


def _items(lake) -> dict[tuple[str, str], set[str]]:
    entries = lake["playlist_entries"].dropna(subset=["uri"])
    return {key: set(g["uri"]) for key, g in entries.groupby(["playlist", "week"])}


def _first_positions(lake, column: str) -> dict[tuple[str, str], dict[str, int]]:
    entries = lake["playlist_entries"].dropna(subset=[column])
    return {
        key: g.groupby(column)["position"].min().to_dict()
        for key, g in entries.groupby(["playlist", "week"])
    }


def _partition(frame: pd.DataFrame, playlist: str, week: str) -> pd.DataFrame:
    return frame[(frame["playlist"] == playlist) & (frame["week"] == week)]


def _artist_name(lake, playlist, week, artist_id):
    artists = _partition(lake["artists"], playlist, week)
    names = artists.loc[artists["artist_id"] == artist_id, "artist_name"]
    return names.iloc[0] if len(names) else None


def _song(lake, playlist, week, song_id) -> dict:
    songs = _partition(lake["songs"], playlist, week)
    return songs[songs["song_id"] == song_id].iloc[0].to_dict()


def expect_playlist_length(lake):
    rows = []
    for (playlist, week), g in lake["playlist_entries"].groupby(["playlist", "week"]):
        duration = int(g["duration_ms"].fillna(0).sum())
        kinds = g["item_type"].value_counts()
        rows.append(
            {
                "playlist": playlist,
                "week": week,
                "entries": len(g),
                "tracks": int(kinds.get("track", 0)),
                "episodes": int(kinds.get("episode", 0)),
                "local_files": int(kinds.get("local", 0)),
                "unavailable": int(kinds.get("unavailable", 0)),
                "duration_ms": duration,
                "hours": _hours(duration),
            }
        )
    return rows


def expect_playlist_snapshots(lake):
    entries = lake["playlist_entries"].groupby(["playlist", "week"]).size()
    attributes = ["name", "description", "owner_id", "owner_name", "public", "collaborative"]
    rows = []
    for playlist, snapshots in lake["playlists"].groupby("playlist"):
        previous_snapshot_id = None
        for index, snapshot in enumerate(snapshots.sort_values("week").to_dict("records")):
            rows.append(
                {
                    "playlist": playlist,
                    "week": snapshot["week"],
                    **{column: snapshot[column] for column in attributes},
                    "followers": snapshot["followers"],
                    "total": snapshot["total"],
                    "entries": int(entries.get((playlist, snapshot["week"]), 0)),
                    "snapshot_id": snapshot["snapshot_id"],
                    "snapshot_changed": (
                        snapshot["snapshot_id"] != previous_snapshot_id if index else None
                    ),
                }
            )
            previous_snapshot_id = snapshot["snapshot_id"]
    return rows


def expect_snapshot_pairs(lake):
    return [
        {"playlist": playlist, "week": week, "previous_week": previous}
        for (playlist, week), previous in _previous(lake).items()
    ]


def expect_weekly_changes(lake):
    items, rows = _items(lake), []
    for (playlist, week), previous in _previous(lake).items():
        row = {"playlist": playlist, "week": week, "previous_week": previous}
        if previous is None:
            row |= {"added": None, "removed": None, "kept": None, "turnover": None}
        else:
            now, before = items.get((playlist, week), set()), items.get((playlist, previous), set())
            added, removed, kept = len(now - before), len(before - now), len(now & before)
            changed = added + removed
            turnover = changed / (changed + kept) if changed + kept else None
            row |= {"added": added, "removed": removed, "kept": kept, "turnover": turnover}
        rows.append(row)
    return rows


def expect_new_and_dropped(lake):
    entries, items = lake["playlist_entries"], _items(lake)
    positions = _first_positions(lake, "uri")
    rows = []
    for (playlist, week), previous in _previous(lake).items():
        if previous is None:
            continue
        now, before = items.get((playlist, week), set()), items.get((playlist, previous), set())
        changes = [("added", week, uri) for uri in now - before]
        changes += [("dropped", previous, uri) for uri in before - now]
        for change, seen_week, uri in changes:
            position = positions[(playlist, seen_week)][uri]
            seen = _partition(entries, playlist, seen_week)
            entry = seen[seen["position"] == position].iloc[0]
            artist = None
            if pd.notna(entry["song_id"]):
                song = _song(lake, playlist, seen_week, entry["song_id"])
                artist = _artist_name(lake, playlist, seen_week, song["artist_id"])
            rows.append(
                {
                    "playlist": playlist,
                    "week": week,
                    "change": change,
                    "position": position,
                    "item_type": entry["item_type"],
                    "uri": uri,
                    "song_id": entry["song_id"],
                    "name": entry["name"],
                    "artist_name": artist,
                    "added_by": entry["added_by"],
                    "added_at": entry["added_at"],
                }
            )
    return rows


def expect_top_artists(lake):
    rows = []
    for (playlist, week), credits in lake["song_artists"].groupby(["playlist", "week"]):
        song_count = len(_partition(lake["songs"], playlist, week))
        tracks = credits.groupby("artist_id")["song_id"].nunique()
        leads = credits[credits["artist_position"] == 0].groupby("artist_id")["song_id"].nunique()
        for artist_id, count in tracks.items():
            rows.append(
                {
                    "playlist": playlist,
                    "week": week,
                    "rank": 1 + int((tracks > count).sum()),
                    "artist_id": artist_id,
                    "artist_name": _artist_name(lake, playlist, week, artist_id),
                    "tracks": int(count),
                    "lead_tracks": int(leads.get(artist_id, 0)),
                    "share": count / song_count,
                }
            )
    return rows


def _songs_with_albums(lake) -> pd.DataFrame:
    return lake["songs"].merge(
        lake["albums"], on=["playlist", "week", "album_id"], how="left", suffixes=("", "_album")
    )


def _shares(frame: pd.DataFrame, column: str, name: str) -> list[dict]:
    rows = []
    for (playlist, week), g in frame.groupby(["playlist", "week"]):
        for value, count in g[column].value_counts(dropna=False).items():
            rows.append(
                {
                    "playlist": playlist,
                    "week": week,
                    name: value,
                    "tracks": int(count),
                    "share": count / len(g),
                }
            )
    return rows


def expect_release_decades(lake):
    songs = _songs_with_albums(lake)
    year = songs["release_year"]
    songs["decade"] = [None if pd.isna(y) else int(y) - int(y) % 10 for y in year]
    return _shares(songs, "decade", "decade")


def expect_album_types(lake):
    return _shares(_songs_with_albums(lake), "album_type", "album_type")


def expect_explicit_share(lake):
    rows = []
    for (playlist, week), g in lake["songs"].groupby(["playlist", "week"]):
        explicit = int((g["explicit"] == True).sum())  # noqa: E712 (null is not explicit)
        rows.append(
            {
                "playlist": playlist,
                "week": week,
                "tracks": len(g),
                "explicit_tracks": explicit,
                "explicit_share": explicit / len(g),
            }
        )
    return rows


def expect_artist_diversity(lake):
    rows = []
    for (playlist, week), songs in lake["songs"].groupby(["playlist", "week"]):
        credits = _partition(lake["song_artists"], playlist, week)
        per_artist = credits.groupby("artist_id")["song_id"].nunique()
        credited = credits["artist_id"].nunique()
        rows.append(
            {
                "playlist": playlist,
                "week": week,
                "tracks": len(songs),
                "credited_artists": credited,
                "lead_artists": songs["artist_id"].nunique(),
                "artists_per_track": credited / len(songs),
                "top_artist_share": (per_artist.max() if len(per_artist) else 0) / len(songs),
            }
        )
    return rows


def _presence(lake) -> pd.DataFrame:
    entries = lake["playlist_entries"].dropna(subset=["song_id"])
    return entries.groupby(["playlist", "week", "song_id"], as_index=False)["added_at"].min()


def expect_track_retention(lake):
    presence = _presence(lake)
    cohort = presence.groupby(["playlist", "song_id"])["week"].min().rename("cohort_week")
    presence = presence.join(cohort, on=["playlist", "song_id"])
    sizes = cohort.reset_index().groupby(["playlist", "cohort_week"]).size()
    rows = []
    for (playlist, cohort_week, week), g in presence.groupby(["playlist", "cohort_week", "week"]):
        days = (dt.date.fromisoformat(week) - dt.date.fromisoformat(cohort_week)).days
        rows.append(
            {
                "playlist": playlist,
                "cohort_week": cohort_week,
                "week": week,
                "weeks_since_first_seen": days // 7,
                "cohort_tracks": int(sizes[(playlist, cohort_week)]),
                "still_in_playlist": len(g),
                "retention": len(g) / sizes[(playlist, cohort_week)],
            }
        )
    return rows


def expect_tracks_ever(lake):
    latest = {playlist: weeks[-1] for playlist, weeks in _snapshots(lake).items()}
    rows = []
    for (playlist, song_id), g in _presence(lake).groupby(["playlist", "song_id"]):
        last_week = g["week"].max()
        song = _song(lake, playlist, last_week, song_id)
        rows.append(
            {
                "playlist": playlist,
                "song_id": song_id,
                "song_name": song["song_name"],
                "artist_name": _artist_name(lake, playlist, last_week, song["artist_id"]),
                "first_week": g["week"].min(),
                "last_week": last_week,
                "snapshots": len(g),
                "still_present": last_week == latest[playlist],
                "first_added_at": g["added_at"].min(),
                "duration_ms": song["duration_ms"],
                "popularity": song["popularity"],
            }
        )
    return rows


def expect_position_movers(lake):
    positions = _first_positions(lake, "song_id")
    rows = []
    for (playlist, week), previous in _previous(lake).items():
        if previous is None:
            continue
        now, before = positions.get((playlist, week), {}), positions.get((playlist, previous), {})
        kept = set(now) & set(before)
        rank_now = {s: i for i, s in enumerate(sorted(kept, key=now.get))}
        rank_before = {s: i for i, s in enumerate(sorted(kept, key=before.get))}
        for song_id in kept:
            places_up = rank_before[song_id] - rank_now[song_id]
            if abs(places_up) <= 1:
                continue
            song = _song(lake, playlist, week, song_id)
            rows.append(
                {
                    "playlist": playlist,
                    "week": week,
                    "song_id": song_id,
                    "song_name": song["song_name"],
                    "artist_name": _artist_name(lake, playlist, week, song["artist_id"]),
                    "position": now[song_id],
                    "previous_position": before[song_id],
                    "places_up": places_up,
                }
            )
    return rows


def _pairs(lake):
    """(week, playlist, other playlist, shared song ids) for every pair sharing a track."""
    positions = _first_positions(lake, "song_id")
    for (playlist, week), songs in positions.items():
        for (other, other_week), other_songs in positions.items():
            shared = set(songs) & set(other_songs)
            if other_week == week and other != playlist and shared:
                yield week, playlist, other, shared, songs, other_songs


def expect_playlist_overlap(lake):
    rows = []
    for week, playlist, other, shared, songs, other_songs in _pairs(lake):
        rows.append(
            {
                "playlist": playlist,
                "week": week,
                "other_playlist": other,
                "shared_tracks": len(shared),
                "tracks": len(songs),
                "other_tracks": len(other_songs),
                "share_of_playlist": len(shared) / len(songs),
                "jaccard": len(shared) / len(set(songs) | set(other_songs)),
            }
        )
    return rows


def expect_shared_tracks(lake):
    rows = []
    for week, playlist, other, shared, songs, other_songs in _pairs(lake):
        for song_id in shared:
            song = _song(lake, playlist, week, song_id)
            rows.append(
                {
                    "playlist": playlist,
                    "week": week,
                    "other_playlist": other,
                    "song_id": song_id,
                    "song_name": song["song_name"],
                    "artist_name": _artist_name(lake, playlist, week, song["artist_id"]),
                    "position": songs[song_id],
                    "other_position": other_songs[song_id],
                }
            )
    return rows


def expect_contributors(lake):
    items, previous, rows = _items(lake), _previous(lake), []
    for (playlist, week), snapshot in lake["playlist_entries"].groupby(["playlist", "week"]):
        before = previous[(playlist, week)]
        for added_by, g in snapshot.groupby("added_by", dropna=False):
            new = None
            if before is not None:
                earlier = items.get((playlist, before), set())
                new = sum(1 for uri in g["uri"] if pd.notna(uri) and uri not in earlier)
            rows.append(
                {
                    "playlist": playlist,
                    "week": week,
                    "added_by": added_by,
                    "entries": len(g),
                    "tracks": int((g["item_type"] == "track").sum()),
                    "hours": _hours(g["duration_ms"].fillna(0).sum()),
                    "new_entries": new,
                    "share": len(g) / len(snapshot),
                }
            )
    return rows


def expect_duration_distribution(lake):
    songs = lake["songs"].dropna(subset=["duration_ms"]).copy()
    songs["minutes"] = [int(ms) // 60_000 for ms in songs["duration_ms"]]
    return _shares(songs, "minutes", "minutes")


def expect_weekly_summary(lake):
    changes = {(r["playlist"], r["week"]): r for r in expect_weekly_changes(lake)}
    diversity = {(r["playlist"], r["week"]): r for r in expect_artist_diversity(lake)}
    rows = []
    for length in expect_playlist_length(lake):
        key = (length["playlist"], length["week"])
        change = changes[key]
        rows.append(
            {
                "playlist": length["playlist"],
                "week": length["week"],
                "entries": length["entries"],
                "hours": length["hours"],
                "added": change["added"],
                "removed": change["removed"],
                "turnover": change["turnover"],
                "distinct_artists": diversity[key]["credited_artists"] if key in diversity else 0,
            }
        )
    return rows


EXPECTATIONS = {
    name.removeprefix("expect_"): function
    for name, function in globals().items()
    if name.startswith("expect_")
}


def test_every_view_has_an_independent_expectation():
    assert set(EXPECTATIONS) == set(catalog.views())


@pytest.mark.parametrize("name", sorted(EXPECTATIONS))
def test_view_matches_pandas_on_the_sample_weeks(name, view_rows, lake):
    assert_same_rows(view_rows[name], EXPECTATIONS[name](lake))


def test_views_agree_whether_week_is_a_date_or_text(lake_dir, view_rows):
    # Athena's week is a date through partition projection; a Glue table declaring it a
    # string would make it text. Every view casts, so both give the same rows.
    as_text = _view_rows(lake_dir, WEEK_AS_TEXT)
    for name, rows in view_rows.items():
        assert _normalized(as_text[name]) == _normalized(rows), name


def test_every_view_has_a_playlist_column_for_the_filter(view_rows):
    for name, rows in view_rows.items():
        assert rows and "playlist" in rows[0], name


# ------------------------------------------------------------------------------------------
# Numbers written down from the generator's script, not computed: the small playlist.


def _rows_of(rows, playlist, **where):
    return [
        row
        for row in rows
        if row["playlist"] == playlist and all(_plain(row[k]) == v for k, v in where.items())
    ]


def test_the_small_playlists_scripted_weeks(view_rows):
    summary = sorted(_rows_of(view_rows["weekly_summary"], SMALL_PLAYLIST_ID), key=str)
    by_week = {_plain(row["week"]): row for row in summary}
    # 8, +1, -2, cleared (no rows: an empty snapshot leaves no entries), refilled
    # with 6, +2, unchanged, one moved and one inserted, -1, +2.
    empty_week = SAMPLE_WEEKS[SMALL_EMPTY_WEEK]
    assert empty_week not in by_week
    assert [by_week[w]["entries"] for w in SAMPLE_WEEKS if w != empty_week] == [
        8, 9, 7, 6, 8, 8, 9, 8, 10,
    ]  # fmt: skip
    assert (by_week["2026-09-21"]["added"], by_week["2026-09-21"]["removed"]) == (0, 2)
    # Compared with the last snapshot that had rows (7 tracks), all of them replaced.
    refilled = by_week[SAMPLE_WEEKS[SMALL_EMPTY_WEEK + 1]]
    assert (refilled["added"], refilled["removed"], refilled["turnover"]) == (6, 7, 1.0)
    assert by_week["2026-10-19"]["turnover"] == 0.0
    # Week 7: the last track moved to the top, passing the other seven kept ones.
    [moved] = _rows_of(view_rows["position_movers"], SMALL_PLAYLIST_ID, week="2026-10-26")
    assert (moved["position"], moved["previous_position"], moved["places_up"]) == (0, 7, 7)
    # The playlists table tells the emptied week from a week never taken: it is a snapshot.
    [emptied] = _rows_of(view_rows["playlist_snapshots"], SMALL_PLAYLIST_ID, week=empty_week)
    assert (emptied["total"], emptied["entries"], emptied["snapshot_changed"]) == (0, 0, True)
    assert len(_rows_of(view_rows["playlist_snapshots"], SMALL_PLAYLIST_ID)) == len(SAMPLE_WEEKS)


def test_edge_cases_reach_the_views(view_rows):
    latest = SAMPLE_WEEKS[-1]
    [length] = _rows_of(view_rows["playlist_length"], EDGE_CASES_PLAYLIST_ID, week=latest)
    assert length["episodes"] >= 1 and length["local_files"] >= 1 and length["unavailable"] >= 1
    assert length["entries"] > length["tracks"]
    decades = _rows_of(view_rows["release_decades"], EDGE_CASES_PLAYLIST_ID, week=latest)
    assert None in {row["decade"] for row in decades}  # the album released "0000"
    contributors = _rows_of(view_rows["contributors"], COLLABORATIVE_PLAYLIST_ID, week=latest)
    assert {row["added_by"] for row in contributors} >= {"sample_owner", "mira.okafor", None}
    overlap = _rows_of(view_rows["playlist_overlap"], MAIN_PLAYLIST_ID, week=latest)
    assert COLLABORATIVE_PLAYLIST_ID in {row["other_playlist"] for row in overlap}


def test_hours_are_rounded_to_two_decimals(view_rows):
    for name in ("playlist_length", "contributors", "weekly_summary"):
        hours = [row["hours"] for row in view_rows[name]]
        assert hours and all(value == round(value, 2) for value in hours), name
    # duration_ms stays exact beside the rounded hours.
    [length] = _rows_of(view_rows["playlist_length"], SMALL_PLAYLIST_ID, week=SAMPLE_WEEKS[0])
    assert length["hours"] == _hours(length["duration_ms"]) != length["duration_ms"] / HOUR_MS
