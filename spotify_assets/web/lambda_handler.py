"""The read API in AWS Lambda: the same Starlette app as ``spotify-assets serve``, adapted by
Mangum to API Gateway's HTTP API events (payload format 2.0).

API Gateway has already checked the caller's token (its JWT authorizer) and throttled the
request by the time the handler runs. The settings come from the function's environment
(``SPOTIFY_ASSETS_ENV=aws``, the bucket, prefix and table prefix); the app is built on the first
event and kept for the life of the execution environment.
"""

import asyncio

from mangum import Mangum

from spotify_assets.web.app import create_app
from spotify_assets.web.settings import build_api, settings_from_environment

_adapter: Mangum | None = None
_loop: asyncio.AbstractEventLoop | None = None


def handler(event: dict, context) -> dict:
    """Lambda's entry point: ``spotify_assets.web.lambda_handler.handler``."""
    global _adapter, _loop
    if _adapter is None:
        # The page is served from S3: the app here answers /api/* only, but it is the same app.
        _adapter = Mangum(create_app(build_api(settings_from_environment())), lifespan="off")
        _loop = asyncio.new_event_loop()
    # Mangum runs the request on the thread's current loop, which newer Pythons no longer make
    # on demand (nor after an asyncio.run() in the same thread).
    asyncio.set_event_loop(_loop)
    return _adapter(event, context)
