-- What changed since the playlist's previous snapshot in the lake, one row per item: 'added'
-- (with its position now) or 'dropped' (with the position it had). Positions count from 0.
-- Items compare by URI, the playlist's own track's for a relinked one: a relink is no change.
-- order by: playlist, week, change, position
-- dashboard: history
WITH items AS (
    SELECT playlist, week, uri, MIN(position) AS position
    FROM playlist_entries
    WHERE uri IS NOT NULL
    GROUP BY playlist, week, uri
),

changes AS (
    SELECT s.playlist, s.week, 'added' AS change, c.week AS seen_week, c.position
    FROM snapshot_pairs AS s
    INNER JOIN items AS c ON c.playlist = s.playlist AND c.week = s.week
    LEFT JOIN items AS p
        ON p.playlist = s.playlist AND p.week = s.previous_week AND p.uri = c.uri
    WHERE s.previous_week IS NOT NULL AND p.uri IS NULL
    UNION ALL
    SELECT s.playlist, s.week, 'dropped' AS change, p.week AS seen_week, p.position
    FROM snapshot_pairs AS s
    INNER JOIN items AS p ON p.playlist = s.playlist AND p.week = s.previous_week
    LEFT JOIN items AS c ON c.playlist = s.playlist AND c.week = s.week AND c.uri = p.uri
    WHERE c.uri IS NULL
)

SELECT
    ch.playlist,
    CAST(ch.week AS DATE) AS week,
    ch.change,
    ch.position,
    e.item_type,
    e.uri,
    e.song_id,
    e.name,
    a.artist_name,
    e.added_by,
    e.added_at
FROM changes AS ch
INNER JOIN playlist_entries AS e
    ON e.playlist = ch.playlist AND e.week = ch.seen_week AND e.position = ch.position
LEFT JOIN songs AS so
    ON so.playlist = e.playlist AND so.week = e.week AND so.song_id = e.song_id
LEFT JOIN artists AS a
    ON a.playlist = so.playlist AND a.week = so.week AND a.artist_id = so.artist_id
