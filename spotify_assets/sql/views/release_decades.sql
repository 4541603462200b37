-- Tracks per decade of their album's release; decade is null when the date is unknown
-- ('0000').
-- order by: playlist, week, decade
-- dashboard: history
SELECT
    s.playlist,
    CAST(s.week AS DATE) AS week,
    al.release_year - al.release_year % 10 AS decade,
    COUNT(*) AS tracks,
    CAST(COUNT(*) AS DOUBLE) / SUM(COUNT(*)) OVER (PARTITION BY s.playlist, s.week) AS share
FROM songs AS s
LEFT JOIN albums AS al
    ON al.playlist = s.playlist AND al.week = s.week AND al.album_id = s.album_id
GROUP BY s.playlist, s.week, al.release_year - al.release_year % 10
