-- How long tracks stay: tracks grouped by the week they were first seen in the lake (their
-- cohort), and how many of each cohort are still in the playlist in every later snapshot.
-- The first cohort holds everything the playlist had when the lake began.
-- order by: playlist, cohort_week, week
-- dashboard: history
WITH presence AS (
    SELECT DISTINCT playlist, week, song_id
    FROM playlist_entries
    WHERE song_id IS NOT NULL
),

cohorts AS (
    SELECT playlist, song_id, MIN(CAST(week AS DATE)) AS cohort_week
    FROM presence
    GROUP BY playlist, song_id
),

cohort_sizes AS (
    SELECT playlist, cohort_week, COUNT(*) AS cohort_tracks
    FROM cohorts
    GROUP BY playlist, cohort_week
),

retained AS (
    SELECT c.playlist, c.cohort_week, CAST(p.week AS DATE) AS week, COUNT(*) AS tracks
    FROM cohorts AS c
    INNER JOIN presence AS p ON p.playlist = c.playlist AND p.song_id = c.song_id
    GROUP BY c.playlist, c.cohort_week, CAST(p.week AS DATE)
)

SELECT
    r.playlist,
    r.cohort_week,
    r.week,
    DATE_DIFF('week', r.cohort_week, r.week) AS weeks_since_first_seen,
    z.cohort_tracks,
    r.tracks AS still_in_playlist,
    CAST(r.tracks AS DOUBLE) / z.cohort_tracks AS retention
FROM retained AS r
INNER JOIN cohort_sizes AS z ON z.playlist = r.playlist AND z.cohort_week = r.cohort_week
