-- Items added, removed and kept since the playlist's previous snapshot in the lake, and the
-- turnover: the share of all items of both snapshots that changed (0 unchanged, 1 all new).
-- An item is what an entry holds (its URI), so a track moved within the playlist is kept,
-- and so is a track Spotify relinked for a market: its URI is the playlist's own track's.
-- The first snapshot of a playlist has no previous one: its counts are null.
-- order by: playlist, week
-- dashboard: history
WITH items AS (
    SELECT DISTINCT playlist, week, uri
    FROM playlist_entries
    WHERE uri IS NOT NULL
),

presence AS (
    SELECT s.playlist, s.week, i.uri, 1 AS in_current, 0 AS in_previous
    FROM snapshot_pairs AS s
    INNER JOIN items AS i ON i.playlist = s.playlist AND i.week = s.week
    UNION ALL
    SELECT s.playlist, s.week, i.uri, 0 AS in_current, 1 AS in_previous
    FROM snapshot_pairs AS s
    INNER JOIN items AS i ON i.playlist = s.playlist AND i.week = s.previous_week
),

per_item AS (
    SELECT
        playlist,
        week,
        uri,
        MAX(in_current) AS in_current,
        MAX(in_previous) AS in_previous
    FROM presence
    GROUP BY playlist, week, uri
),

counts AS (
    SELECT
        playlist,
        week,
        COUNT(CASE WHEN in_current = 1 AND in_previous = 0 THEN 1 END) AS added,
        COUNT(CASE WHEN in_current = 0 AND in_previous = 1 THEN 1 END) AS removed,
        COUNT(CASE WHEN in_current = 1 AND in_previous = 1 THEN 1 END) AS kept
    FROM per_item
    GROUP BY playlist, week
)

SELECT
    s.playlist,
    CAST(s.week AS DATE) AS week,
    CAST(s.previous_week AS DATE) AS previous_week,
    CASE WHEN s.previous_week IS NOT NULL THEN COALESCE(c.added, 0) END AS added,
    CASE WHEN s.previous_week IS NOT NULL THEN COALESCE(c.removed, 0) END AS removed,
    CASE WHEN s.previous_week IS NOT NULL THEN COALESCE(c.kept, 0) END AS kept,
    CASE
        WHEN s.previous_week IS NOT NULL
            THEN CAST(c.added + c.removed AS DOUBLE) / NULLIF(c.added + c.removed + c.kept, 0)
    END AS turnover
FROM snapshot_pairs AS s
LEFT JOIN counts AS c ON c.playlist = s.playlist AND c.week = s.week
