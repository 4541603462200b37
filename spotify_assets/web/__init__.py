"""The dashboard and its read API: one Starlette app, served by ``spotify-assets serve`` locally
and by Lambda (through Mangum) behind API Gateway and CloudFront in AWS.

Nothing here imports Dagster, pyarrow or DuckDB: the Lambda package holds this folder, the
package's constants and Starlette, and starts in a fraction of a second.

- :mod:`.tables`: the serving tables' columns as the API returns them
- :mod:`.serving_reader`: reads of the serving store (SQLite, DynamoDB): by key, batched, by index
- :mod:`.dashboard_files`: the files the ``analytics/dashboard`` asset writes (local or S3)
- :mod:`.api`: what each route answers, and its errors; no web framework
- :mod:`.page`: the page, its Chart.js script and its Content-Security-Policy
- :mod:`.app`: the Starlette app; :mod:`.lambda_handler`: the same app in Lambda
- :mod:`.settings`: which stores, from the deployment's variables
- :mod:`.bundle`: the site for S3 and the Lambda's zip; :mod:`.cli`: ``spotify-assets serve``,
  and :mod:`.server`, its uvicorn server, bounded against slow clients
"""
