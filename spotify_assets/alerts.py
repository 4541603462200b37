"""Alerts for self-hosted Dagster: every failed run, and the failed blocking checks that stopped
it, reach a webhook as one JSON message.

``SPOTIFY_ASSETS_ALERT_WEBHOOK_URL`` switches them on: an ``http(s)://`` URL that takes a JSON
``POST``, such as a Slack or Teams incoming webhook (``text`` is the message they show) or your
own receiver. Unset, a failed run's sensor tick says that alerts are off and sends nothing. The
URL is a secret (a webhook's path is its key): it never reaches a log, only its host does.

A failed blocking check always fails its run (its partition publishes nothing), so one sensor
reports both: ``"kind": "check_failed"`` with the checks and their problems when failed blocking
checks stopped the run, else ``"kind": "run_failed"`` with the failed steps' errors.
"""

import json
import os
import urllib.error
import urllib.parse
import urllib.request

import dagster as dg

ENV_ALERT_WEBHOOK_URL = "SPOTIFY_ASSETS_ALERT_WEBHOOK_URL"
RUN_FAILED = "run_failed"
CHECK_FAILED = "check_failed"
WEBHOOK_TIMEOUT_SECONDS = 10
# Errors can be long (a check lists its problems): a chat message needs the start only.
MAX_ERROR_CHARS = 1_000
PARTITION_TAG = "dagster/partition"
# A run of several partitions (a grouped backfill) names the first and the last.
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


class AlertNotSent(RuntimeError):
    """The webhook refused the alert or did not answer; says why, without the URL."""


def webhook_url() -> str | None:
    """``SPOTIFY_ASSETS_ALERT_WEBHOOK_URL``, or None when alerts are off."""
    url = os.environ.get(ENV_ALERT_WEBHOOK_URL, "").strip()
    if not url:
        return None
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        # The value itself stays out of the message: it may hold the webhook's key.
        raise ValueError(f"{ENV_ALERT_WEBHOOK_URL} must be an http:// or https:// URL")
    return url


def webhook_host(url: str) -> str:
    """What a log may say of the webhook: its scheme and host, never the path that holds its key."""
    parsed = urllib.parse.urlsplit(url)
    return f"{parsed.scheme}://{parsed.hostname}"


def _shortened(text: str) -> str:
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


def failure_alert(
    *,
    job: str,
    run_id: str,
    partition: str | None,
    step_errors: dict[str, str],
    failed_checks: list[dict],
) -> dict:
    """The JSON message for a failed run: ``failed_checks`` (``asset``, ``check``, ``problems``)
    are the failed blocking checks that stopped it, ``step_errors`` each failed step's error."""
    where = f"job {job}" + (f", partition {partition}" if partition else "")
    if failed_checks:
        kind = CHECK_FAILED
        summary = "; ".join(
            f"{check['check']} on {check['asset']}: {check['problems']}" for check in failed_checks
        )
        text = f"spotify_assets: blocking check failed in run {run_id} ({where}): {summary}"
    else:
        kind = RUN_FAILED
        summary = "; ".join(f"{step}: {error}" for step, error in step_errors.items())
        text = f"spotify_assets: run {run_id} failed ({where})"
        text += f": {summary}" if summary else ""
    return {
        "text": _shortened(text),
        "kind": kind,
        "job": job,
        "run_id": run_id,
        "partition": partition,
        "step_errors": {step: _shortened(error) for step, error in step_errors.items()},
        "failed_checks": failed_checks,
    }


def post_alert(url: str, message: dict) -> int:
    """POSTs ``message`` as JSON to ``url``; returns the HTTP status. Raises :class:`AlertNotSent`
    on an error status or no answer, naming the host only."""
    request = urllib.request.Request(
        url,
        data=json.dumps(message, ensure_ascii=False).encode("utf-8"),
        headers={"Content-Type": "application/json; charset=utf-8"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as response:
            return response.status
    except urllib.error.HTTPError as error:
        problem = f"answered HTTP {error.code}"
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        problem = f"did not answer ({getattr(error, 'reason', error)})"
    raise AlertNotSent(f"the webhook at {webhook_host(url)} {problem}")


def failed_blocking_checks(instance: dg.DagsterInstance, run_id: str) -> list[dict]:
    """The blocking checks that failed in run ``run_id``: asset, check name and problems."""
    failed = []
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
        evaluation = record.dagster_event.event_specific_data
        if evaluation.passed or not evaluation.blocking:
            continue
        problems = evaluation.metadata.get("problems")
        failed.append(
            {
                "asset": evaluation.asset_key.to_user_string(),
                "check": evaluation.check_name,
                "problems": _shortened(str(problems.value) if problems else "failed"),
            }
        )
    return failed


def run_partition(tags: dict[str, str]) -> str | None:
    """The partition a run materialized (``playlist|week``), or its range (``first...last``)."""
    if PARTITION_TAG in tags:
        return tags[PARTITION_TAG]
    if RANGE_START_TAG in tags:
        return f"{tags[RANGE_START_TAG]}...{tags.get(RANGE_END_TAG, '')}"
    return None


def _step_errors(context: dg.RunFailureSensorContext) -> dict[str, str]:
    errors = {}
    for event in context.get_step_failure_events():
        error = event.event_specific_data.error
        if error is None:
            errors[event.step_key or "run"] = event.message or "failed"
            continue
        # "dagster._core.definitions.events.Failure: playlist ..." -> "playlist ..."
        kind, _, message = error.message.strip().partition(": ")
        named = message and error.cls_name and kind.endswith(error.cls_name)
        shown = message if named else error.message
        errors[event.step_key or "run"] = shown.strip()
    return errors


@dg.run_failure_sensor(
    name="alert_on_failure",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Sends every failed run, and the failed blocking checks that stopped it, to the "
    f"webhook in {ENV_ALERT_WEBHOOK_URL} as JSON; sends nothing while it is unset.",
)
def alert_on_failure(context: dg.RunFailureSensorContext):
    run = context.dagster_run
    url = webhook_url()
    if url is None:
        line = f"alerts are off ({ENV_ALERT_WEBHOOK_URL} is not set): run {run.run_id} failed"
        context.log.info(line)
        return dg.SkipReason(line)
    message = failure_alert(
        job=run.job_name,
        run_id=run.run_id,
        partition=run_partition(run.tags),
        step_errors=_step_errors(context),
        failed_checks=failed_blocking_checks(context.instance, run.run_id),
    )
    status = post_alert(url, message)
    context.log.info(
        f"{message['kind']} alert for run {run.run_id} sent to {webhook_host(url)} (HTTP {status})"
    )
    return None
