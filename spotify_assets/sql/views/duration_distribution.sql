-- Tracks by length in whole minutes: minutes = 3 holds tracks from 3:00 to 3:59.
-- order by: playlist, week, minutes
-- dashboard: history
SELECT
    s.playlist,
    CAST(s.week AS DATE) AS week,
    CAST(FLOOR(CAST(s.duration_ms AS DOUBLE) / 60000) AS BIGINT) AS minutes,
    COUNT(*) AS tracks,
    CAST(COUNT(*) AS DOUBLE) / SUM(COUNT(*)) OVER (PARTITION BY s.playlist, s.week) AS share
FROM songs AS s
WHERE s.duration_ms IS NOT NULL
GROUP BY s.playlist, s.week, CAST(FLOOR(CAST(s.duration_ms AS DOUBLE) / 60000) AS BIGINT)
