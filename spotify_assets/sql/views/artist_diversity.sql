-- How many different artists a snapshot holds: every credited artist, the lead artists,
-- credited artists per track, and the share of tracks of the most credited artist.
-- order by: playlist, week
-- dashboard: history
WITH credits AS (
    SELECT playlist, week, artist_id, COUNT(DISTINCT song_id) AS tracks
    FROM song_artists
    GROUP BY playlist, week, artist_id
),

per_snapshot AS (
    SELECT playlist, week, COUNT(*) AS credited_artists, MAX(tracks) AS top_artist_tracks
    FROM credits
    GROUP BY playlist, week
),

songs_per_snapshot AS (
    SELECT playlist, week, COUNT(*) AS tracks, COUNT(DISTINCT artist_id) AS lead_artists
    FROM songs
    GROUP BY playlist, week
)

SELECT
    s.playlist,
    CAST(s.week AS DATE) AS week,
    s.tracks,
    COALESCE(p.credited_artists, 0) AS credited_artists,
    s.lead_artists,
    CAST(COALESCE(p.credited_artists, 0) AS DOUBLE) / s.tracks AS artists_per_track,
    CAST(COALESCE(p.top_artist_tracks, 0) AS DOUBLE) / s.tracks AS top_artist_share
FROM songs_per_snapshot AS s
LEFT JOIN per_snapshot AS p ON p.playlist = s.playlist AND p.week = s.week
