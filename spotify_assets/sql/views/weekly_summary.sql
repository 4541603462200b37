-- One row per playlist and snapshot: length, hours, items added and removed since the
-- previous snapshot, turnover and distinct credited artists. Built on three other views.
-- order by: playlist, week
-- dashboard: history
SELECT
    l.playlist,
    l.week,
    l.entries,
    l.hours,
    c.added,
    c.removed,
    c.turnover,
    COALESCE(d.credited_artists, 0) AS distinct_artists
FROM playlist_length AS l
LEFT JOIN weekly_changes AS c ON c.playlist = l.playlist AND c.week = l.week
LEFT JOIN artist_diversity AS d ON d.playlist = l.playlist AND d.week = l.week
