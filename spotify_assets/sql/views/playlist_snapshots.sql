-- Every snapshot taken of each playlist: its name, description, owner, visibility and
-- followers that week, Spotify's total beside the entries the lake holds, and whether the
-- snapshot id changed since the playlist's previous snapshot (null for the first). An empty
-- snapshot is a row with total 0; a week never taken has no row.
-- order by: playlist, week
-- dashboard: history
WITH entry_counts AS (
    SELECT playlist, week, COUNT(*) AS entries
    FROM playlist_entries
    GROUP BY playlist, week
)

SELECT
    p.playlist,
    CAST(p.week AS DATE) AS week,
    p.name,
    p.description,
    p.owner_id,
    p.owner_name,
    p.public,
    p.collaborative,
    p.followers,
    p.total,
    COALESCE(e.entries, 0) AS entries,
    p.snapshot_id,
    p.snapshot_id <> LAG(p.snapshot_id) OVER (
        PARTITION BY p.playlist ORDER BY CAST(p.week AS DATE)
    ) AS snapshot_changed
FROM playlists AS p
LEFT JOIN entry_counts AS e ON e.playlist = p.playlist AND e.week = p.week
