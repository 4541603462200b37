-- Artists by the number of the snapshot's tracks they are credited on (every credited
-- artist, not only the first), ranked per snapshot; lead_tracks counts those they lead.
-- order by: playlist, week, rank, artist_name, artist_id
-- dashboard: latest week
WITH credits AS (
    SELECT
        playlist,
        week,
        artist_id,
        COUNT(DISTINCT song_id) AS tracks,
        COUNT(DISTINCT CASE WHEN artist_position = 0 THEN song_id END) AS lead_tracks
    FROM song_artists
    GROUP BY playlist, week, artist_id
),

sizes AS (
    SELECT playlist, week, COUNT(*) AS tracks
    FROM songs
    GROUP BY playlist, week
)

SELECT
    c.playlist,
    CAST(c.week AS DATE) AS week,
    RANK() OVER (PARTITION BY c.playlist, c.week ORDER BY c.tracks DESC) AS rank,
    c.artist_id,
    a.artist_name,
    c.tracks,
    c.lead_tracks,
    CAST(c.tracks AS DOUBLE) / z.tracks AS share
FROM credits AS c
INNER JOIN artists AS a
    ON a.playlist = c.playlist AND a.week = c.week AND a.artist_id = c.artist_id
INNER JOIN sizes AS z ON z.playlist = c.playlist AND z.week = c.week
