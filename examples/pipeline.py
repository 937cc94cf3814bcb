"""A three-job pipeline, ingestion → processing → reporting, carried by batch ids (no shared status API).

Answers "How would you configure multiple HTTP jobs where one job's response data influences the
scheduling rules of another job?" natively:

- **ingestion** (its own job) runs hourly and answers with the batch it ingested:
  `{"batch_id": "batch-0042", "status": "done", "records": 120}`;
- **processing** (another job) depends on ingestion: it runs as soon as an ingestion run succeeds
  with `status == "done"`, once per new `$.batch_id`, and is handed the batch id, the record count
  and the ingestion run in its JSON body. Its own schedule is a yearly fallback, gated: it never
  runs without a batch;
- **reporting** (a third job) depends on processing with the same batch key and a gate: it runs
  once per processed batch, right after processing succeeded, and its 06:00 run is skipped (and
  recorded as skipped, with the reason) while processing has not succeeded: it never reports on
  failed processing.

Each stage starts within one dispatch (about a second) of its upstream's result, and no stage runs
twice for one batch id. A cycle (say, ingestion waiting on reporting) is refused at registration.

Run it against your services, on the database the workers use (`cronicorn up` for a laptop):

    python -m examples.pipeline --database-url sqlite:///cronicorn.db --base-url https://etl.example.com

or against the stand-in services of `examples/demo_services.py` (`--demo`), which it serves until
Ctrl-C while `cronicorn up` runs the workers on the same database:

    CRONICORN_DATABASE_URL=sqlite:///cronicorn.db python -m examples.pipeline --demo

Then `cronicorn endpoints decisions <id>` (or `cron.decisions(id)`) says why each stage ran or did not.
The arguments fall back to the environment: CRONICORN_DATABASE_URL and PIPELINE_BASE_URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cronicorn import Cronicorn
from examples.command_line import latest_decisions, parse, serve

HOURLY = {"baseline_cron": "0 * * * *"}
AT_SIX = {"baseline_cron": "0 6 * * *"}
YEARLY = {"baseline_cron": "0 0 1 1 *"}  # a fallback that the gate skips unless a batch is ready


@dataclass(frozen=True)
class Pipeline:
    ingest: str  # endpoint ids
    process: str
    report: str


def register_pipeline(
    cron: Cronicorn,
    base_url: str,
    *,
    ingest_schedule: Mapping[str, Any] = HOURLY,
    report_schedule: Mapping[str, Any] = AT_SIX,
) -> Pipeline:
    """Register (or bring up to date) the three jobs; idempotent, so it can run at every deploy."""
    base = base_url.rstrip("/")
    _, [ingest] = cron.register(
        {"name": "data-ingestion", "description": "pulls new data; answers with the batch id"},
        [{"name": "ingest", "url": f"{base}/ingest", "method": "POST", **ingest_schedule}],
    )
    _, [process] = cron.register(
        {"name": "data-processing", "description": "processes each new batch once"},
        [{"name": "process", "url": f"{base}/process", "method": "POST", **YEARLY}],
        dependencies={
            "process": {
                "upstream_endpoint_ids": [ingest.id],
                "on": "success",
                "condition": '$.status == "done" and $.records > 0',
                "batch_key": "$.batch_id",
                "trigger": True,
                "gate": True,
                "template": {"body": {"batch_id": "key", "records": "$.records", "ingest_run": "run_id"}},
            }
        },
    )
    _, [report] = cron.register(
        {"name": "report-generation", "description": "reports on each processed batch, never on a failed one"},
        [{"name": "report", "url": f"{base}/report", "method": "POST", **report_schedule}],
        dependencies={
            "report": {
                "upstream_endpoint_ids": [process.id],
                "on": "success",
                "condition": '$.status == "processed"',
                "batch_key": "$.batch_id",
                "trigger": True,
                "gate": True,
                "template": {"body": {"batch_id": "key", "rows": "$.rows", "processing_run": "run_id"}},
            }
        },
    )
    return Pipeline(ingest=ingest.id, process=process.id, report=report.id)


def main(argv: list[str] | None = None) -> None:
    run = parse(__doc__, argv, demo_help="serve the stand-in services and use them")
    pipeline = register_pipeline(run.cron, run.base_url)
    print(f"ingest {pipeline.ingest}\nprocess {pipeline.process}\nreport {pipeline.report}")
    if run.services is not None:
        run.cron.run_now(pipeline.ingest)
        serve(run.services, lambda: latest_decisions(run.cron, pipeline.report, 3, "report: "))


if __name__ == "__main__":
    main()
