"""When the weekly snapshot is late: a freshness policy on every weekly asset.

The weekly schedule starts Monday at 06:00 UTC (:mod:`spotify_assets.schedules`); a snapshot of
the week that ended is expected by Monday noon UTC. An asset not materialized between Monday
00:00 (when the week ends, the earliest a snapshot of it can be taken) and noon turns *Failing*
in the UI at noon, and passes again once it materializes.

Dagster evaluates the policy per asset, not per partition: one playlist snapshotted makes the
asset fresh, and a backfill of an old week does too. A playlist whose run failed is reported by
the run-failure alert (:mod:`spotify_assets.alerts`).

The policy applies to the live source only: replaying recordings there is no new week to
expect, and every asset would turn late a week after its last materialization.
"""

import datetime as dt

import dagster as dg

from spotify_assets.sources.spotify_settings import spotify_credentials_configured

SNAPSHOT_DEADLINE_CRON = "0 12 * * 1"  # Monday noon
SNAPSHOT_DEADLINE_TIMEZONE = "UTC"
# From Monday 00:00, when the week ends: a materialization before it cannot be that week's.
SNAPSHOT_WINDOW = dt.timedelta(hours=12)

WEEKLY_SNAPSHOT_FRESHNESS = dg.FreshnessPolicy.cron(
    deadline_cron=SNAPSHOT_DEADLINE_CRON,
    lower_bound_delta=SNAPSHOT_WINDOW,
    timezone=SNAPSHOT_DEADLINE_TIMEZONE,
)


def weekly_freshness_policy() -> dg.FreshnessPolicy | None:
    """The weekly snapshot's deadline when snapshots come from Spotify; None when replaying."""
    return WEEKLY_SNAPSHOT_FRESHNESS if spotify_credentials_configured() else None
