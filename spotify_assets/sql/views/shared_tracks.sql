-- The tracks themselves that a playlist shares with another playlist the same week, with
-- their first position in each (counting from 0).
-- order by: playlist, week, other_playlist, position
-- dashboard: latest week
-- reads: every playlist
WITH tracks AS (
    SELECT playlist, week, song_id, MIN(position) AS position
    FROM playlist_entries
    WHERE song_id IS NOT NULL
    GROUP BY playlist, week, song_id
)

SELECT
    t.playlist,
    CAST(t.week AS DATE) AS week,
    o.playlist AS other_playlist,
    t.song_id,
    so.song_name,
    a.artist_name,
    t.position,
    o.position AS other_position
FROM tracks AS t
INNER JOIN tracks AS o ON o.week = t.week AND o.song_id = t.song_id AND o.playlist <> t.playlist
INNER JOIN songs AS so
    ON so.playlist = t.playlist AND so.week = t.week AND so.song_id = t.song_id
LEFT JOIN artists AS a
    ON a.playlist = so.playlist AND a.week = so.week AND a.artist_id = so.artist_id
