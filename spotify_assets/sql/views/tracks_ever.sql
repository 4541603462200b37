-- Every track ever in a playlist: the first and last week it was seen, in how many
-- snapshots, whether the latest snapshot still has it, and its name, lead artist and
-- popularity (null for apps that no longer get it) as of the last week it was seen.
-- order by: playlist, first_week, song_id
-- dashboard: history
WITH presence AS (
    SELECT playlist, week, song_id, MIN(added_at) AS added_at
    FROM playlist_entries
    WHERE song_id IS NOT NULL
    GROUP BY playlist, week, song_id
),

latest AS (
    SELECT playlist, MAX(CAST(week AS DATE)) AS week
    FROM playlist_entries
    GROUP BY playlist
),

spans AS (
    SELECT
        playlist,
        song_id,
        MIN(week) AS first_week,
        MAX(week) AS last_week,
        COUNT(*) AS snapshots,
        MIN(added_at) AS first_added_at
    FROM presence
    GROUP BY playlist, song_id
)

SELECT
    sp.playlist,
    sp.song_id,
    so.song_name,
    a.artist_name,
    CAST(sp.first_week AS DATE) AS first_week,
    CAST(sp.last_week AS DATE) AS last_week,
    sp.snapshots,
    CAST(sp.last_week AS DATE) = l.week AS still_present,
    sp.first_added_at,
    so.duration_ms,
    so.popularity
FROM spans AS sp
INNER JOIN latest AS l ON l.playlist = sp.playlist
INNER JOIN songs AS so
    ON so.playlist = sp.playlist AND so.week = sp.last_week AND so.song_id = sp.song_id
LEFT JOIN artists AS a
    ON a.playlist = so.playlist AND a.week = so.week AND a.artist_id = so.artist_id
