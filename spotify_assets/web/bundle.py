"""What the AWS deployment of the dashboard uploads (``deploy/aws/dashboard.yaml``):

- the site, for the S3 bucket behind CloudFront: the page, its static files (Chart.js among
  them, as this package ships it) and ``config.json``, which tells the page where to sign in;
- the Lambda's zip: this package's web modules and their few pure-Python dependencies, taken
  from the current environment (boto3 comes with Lambda's Python runtime). No Dagster, pyarrow
  or DuckDB: the zip is a few hundred kilobytes and starts fast.
"""

import importlib.metadata
import json
import shutil
import zipfile
from pathlib import Path

from spotify_assets.web.page import STATIC_DIR, WEB_DIR, render_page, static_files

PACKAGE_DIR = WEB_DIR.parent
# The web app's dependencies and theirs (for Lambda's Python 3.12 and 3.13 runtimes).
LAMBDA_DISTRIBUTIONS = ("starlette", "anyio", "idna", "typing_extensions", "mangum")
# A fixed time for every zip entry: the same sources give the same zip.
ZIP_TIME = (2026, 1, 1, 0, 0, 0)


def build_site(out_dir: Path, auth: dict | None) -> list[str]:
    """Writes the site into ``out_dir`` and returns the files written, relative to it.
    ``auth``: ``{"domain": ..., "client_id": ...}`` of the stack's Cognito client."""
    files = {
        "index.html": render_page().encode(),
        "config.json": json.dumps({"auth": auth}, indent=2).encode(),
    }
    for url, path in static_files().items():
        files[url.lstrip("/")] = path.read_bytes()
    for relative, data in files.items():
        (out_dir / relative).parent.mkdir(parents=True, exist_ok=True)
        (out_dir / relative).write_bytes(data)
    return sorted(files)


def lambda_sources() -> dict[str, Path]:
    """The files of the Lambda's zip: name in the zip -> file on disk."""
    sources: dict[str, Path] = {}
    for name in ("__init__.py", "constants.py"):
        sources[f"spotify_assets/{name}"] = PACKAGE_DIR / name
    # The Lambda answers /api/* only (CloudFront serves the site from S3): it needs the page's
    # files to build the app, but not Chart.js.
    page_files = [path for path in static_files().values() if path.parent == STATIC_DIR]
    for path in sorted([*WEB_DIR.glob("*.py"), WEB_DIR / "page.html", *page_files]):
        sources[f"spotify_assets/{path.relative_to(WEB_DIR.parent).as_posix()}"] = path
    for distribution_name in LAMBDA_DISTRIBUTIONS:
        distribution = importlib.metadata.distribution(distribution_name)
        for file in distribution.files or []:
            name = file.as_posix()
            if name.startswith("..") or "__pycache__" in name or ".dist-info/" in name:
                continue
            sources[name] = Path(str(file.locate()))
    return sources


def build_lambda_zip(path: Path) -> list[str]:
    """Writes the Lambda's zip (handler ``spotify_assets.web.lambda_handler.handler``) and
    returns the names it holds."""
    sources = lambda_sources()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(sources):
            entry = zipfile.ZipInfo(name, ZIP_TIME)
            entry.external_attr = 0o644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, sources[name].read_bytes())
    shutil.move(temporary, path)
    return sorted(sources)
