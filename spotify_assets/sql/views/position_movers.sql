-- Tracks that moved since the playlist's previous snapshot in the lake. A move is measured
-- among the tracks in both snapshots, so additions and removals above a track do not count:
-- places_up is how many of those it passed (positive towards the top). Moves of one place
-- are left out, as a track moved k places shifts the k tracks it passes by one. position
-- and previous_position are the playlist's own, counting from 0; a track listed twice
-- counts at its first position.
-- order by: playlist, week, ABS(places_up) DESC, position
-- dashboard: latest week
WITH positions AS (
    SELECT playlist, week, song_id, MIN(position) AS position
    FROM playlist_entries
    WHERE song_id IS NOT NULL
    GROUP BY playlist, week, song_id
),

kept AS (
    SELECT
        s.playlist,
        s.week,
        c.song_id,
        c.position,
        p.position AS previous_position,
        ROW_NUMBER() OVER (PARTITION BY s.playlist, s.week ORDER BY c.position) AS rank_now,
        ROW_NUMBER() OVER (PARTITION BY s.playlist, s.week ORDER BY p.position) AS rank_before
    FROM snapshot_pairs AS s
    INNER JOIN positions AS c ON c.playlist = s.playlist AND c.week = s.week
    INNER JOIN positions AS p
        ON p.playlist = s.playlist AND p.week = s.previous_week AND p.song_id = c.song_id
)

SELECT
    k.playlist,
    CAST(k.week AS DATE) AS week,
    k.song_id,
    so.song_name,
    a.artist_name,
    k.position,
    k.previous_position,
    k.rank_before - k.rank_now AS places_up
FROM kept AS k
INNER JOIN songs AS so
    ON so.playlist = k.playlist AND so.week = k.week AND so.song_id = k.song_id
LEFT JOIN artists AS a
    ON a.playlist = so.playlist AND a.week = so.week AND a.artist_id = so.artist_id
WHERE ABS(k.rank_before - k.rank_now) > 1
