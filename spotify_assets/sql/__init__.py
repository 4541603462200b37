"""SQL over the lake: the views (one ``.sql`` file each, the same text on DuckDB and Athena),
the local DuckDB engine and the Athena client."""

from spotify_assets.sql.catalog import View, inline_views, view, view_query, views
from spotify_assets.sql.result import QueryResult

__all__ = ["QueryResult", "View", "inline_views", "view", "view_query", "views"]
