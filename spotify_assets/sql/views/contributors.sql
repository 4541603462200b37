-- Who added what, for collaborative playlists: per snapshot and user, the entries they
-- added that are in the playlist, their hours (to two decimals), and how many of those play
-- an item that was not in the previous snapshot in the lake (null for the first). added_by is
-- null when Spotify does not say (old entries, deleted accounts).
-- order by: playlist, week, entries DESC, added_by
-- dashboard: history
WITH previous_items AS (
    SELECT DISTINCT playlist, week, uri
    FROM playlist_entries
    WHERE uri IS NOT NULL
),

marked AS (
    SELECT
        e.playlist,
        e.week,
        e.added_by,
        e.item_type,
        e.uri,
        e.duration_ms,
        s.previous_week,
        p.uri AS previous_uri
    FROM playlist_entries AS e
    INNER JOIN snapshot_pairs AS s ON s.playlist = e.playlist AND s.week = e.week
    LEFT JOIN previous_items AS p
        ON p.playlist = s.playlist AND p.week = s.previous_week AND p.uri = e.uri
)

SELECT
    m.playlist,
    CAST(m.week AS DATE) AS week,
    m.added_by,
    COUNT(*) AS entries,
    COUNT(CASE WHEN m.item_type = 'track' THEN 1 END) AS tracks,
    ROUND(CAST(COALESCE(SUM(m.duration_ms), 0) AS DOUBLE) / 3600000, 2) AS hours,
    CASE
        WHEN MAX(m.previous_week) IS NOT NULL
            THEN COUNT(CASE WHEN m.uri IS NOT NULL AND m.previous_uri IS NULL THEN 1 END)
    END AS new_entries,
    CAST(COUNT(*) AS DOUBLE) / SUM(COUNT(*)) OVER (PARTITION BY m.playlist, m.week) AS share
FROM marked AS m
GROUP BY m.playlist, m.week, m.added_by
