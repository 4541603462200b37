-- Each playlist's snapshots in the lake, with the week of the previous one (null for the
-- first). The other views compare a snapshot with its previous one through this view.
-- order by: playlist, week
-- dashboard: history
SELECT
    s.playlist,
    s.week,
    LAG(s.week) OVER (PARTITION BY s.playlist ORDER BY CAST(s.week AS DATE)) AS previous_week
FROM (SELECT DISTINCT playlist, week FROM playlist_entries) AS s
