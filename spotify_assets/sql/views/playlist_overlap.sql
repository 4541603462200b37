-- Tracks a playlist shares with each other playlist snapshotted the same week (pairs that
-- share none are left out): the share of this playlist's tracks, and the Jaccard index
-- (shared tracks over the tracks of either).
-- order by: playlist, week, other_playlist
-- dashboard: latest week
-- reads: every playlist
WITH tracks AS (
    SELECT DISTINCT playlist, week, song_id
    FROM playlist_entries
    WHERE song_id IS NOT NULL
),

sizes AS (
    SELECT playlist, week, COUNT(*) AS tracks
    FROM tracks
    GROUP BY playlist, week
),

shared AS (
    SELECT t.playlist, t.week, o.playlist AS other_playlist, COUNT(*) AS shared_tracks
    FROM tracks AS t
    INNER JOIN tracks AS o
        ON o.week = t.week AND o.song_id = t.song_id AND o.playlist <> t.playlist
    GROUP BY t.playlist, t.week, o.playlist
)

SELECT
    sh.playlist,
    CAST(sh.week AS DATE) AS week,
    sh.other_playlist,
    sh.shared_tracks,
    st.tracks,
    so.tracks AS other_tracks,
    CAST(sh.shared_tracks AS DOUBLE) / st.tracks AS share_of_playlist,
    CAST(sh.shared_tracks AS DOUBLE) / (st.tracks + so.tracks - sh.shared_tracks) AS jaccard
FROM shared AS sh
INNER JOIN sizes AS st ON st.playlist = sh.playlist AND st.week = sh.week
INNER JOIN sizes AS so ON so.playlist = sh.other_playlist AND so.week = sh.week
