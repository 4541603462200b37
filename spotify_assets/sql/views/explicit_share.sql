-- The share of the snapshot's tracks marked explicit.
-- order by: playlist, week
-- dashboard: history
SELECT
    s.playlist,
    CAST(s.week AS DATE) AS week,
    COUNT(*) AS tracks,
    COUNT(CASE WHEN s.explicit THEN 1 END) AS explicit_tracks,
    CAST(COUNT(CASE WHEN s.explicit THEN 1 END) AS DOUBLE) / COUNT(*) AS explicit_share
FROM songs AS s
GROUP BY s.playlist, s.week
