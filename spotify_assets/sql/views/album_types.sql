-- Tracks by the type of their album: album, single or compilation.
-- order by: playlist, week, album_type
-- dashboard: history
SELECT
    s.playlist,
    CAST(s.week AS DATE) AS week,
    al.album_type,
    COUNT(*) AS tracks,
    CAST(COUNT(*) AS DOUBLE) / SUM(COUNT(*)) OVER (PARTITION BY s.playlist, s.week) AS share
FROM songs AS s
LEFT JOIN albums AS al
    ON al.playlist = s.playlist AND al.week = s.week AND al.album_id = s.album_id
GROUP BY s.playlist, s.week, al.album_type
