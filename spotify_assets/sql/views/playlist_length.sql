-- Playlist length and total hours per snapshot: every entry counts, by kind (Spotify
-- tracks, podcast episodes, local files, entries whose item is gone). Hours are rounded to
-- two decimals; duration_ms is exact.
-- order by: playlist, week
-- dashboard: history
SELECT
    e.playlist,
    CAST(e.week AS DATE) AS week,
    COUNT(*) AS entries,
    COUNT(CASE WHEN e.item_type = 'track' THEN 1 END) AS tracks,
    COUNT(CASE WHEN e.item_type = 'episode' THEN 1 END) AS episodes,
    COUNT(CASE WHEN e.item_type = 'local' THEN 1 END) AS local_files,
    COUNT(CASE WHEN e.item_type = 'unavailable' THEN 1 END) AS unavailable,
    CAST(COALESCE(SUM(e.duration_ms), 0) AS BIGINT) AS duration_ms,
    ROUND(CAST(COALESCE(SUM(e.duration_ms), 0) AS DOUBLE) / 3600000, 2) AS hours
FROM playlist_entries AS e
GROUP BY e.playlist, e.week
