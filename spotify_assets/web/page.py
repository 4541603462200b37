"""The dashboard page: its HTML, its Chart.js and its Content-Security-Policy.

Chart.js ships inside this package (``static/vendor/``, with its license): the page loads it from
the server that serves the page, never from a CDN, so a plain ``pip install`` serves a whole
page and nothing needs npm. ``package.json`` and its lock beside this module pin the same
version for the test that checks the shipped file against the one ``npm ci`` installs.
"""

import html
from pathlib import Path

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"
PAGE_TEMPLATE = WEB_DIR / "page.html"
CHART_JS_VERSION = "4.6.1"
CHART_JS_FILE = STATIC_DIR / "vendor" / "chart.umd.min.js"
CHART_JS_LICENSE = CHART_JS_FILE.with_name(f"{CHART_JS_FILE.name}.LICENSE.md")
CHART_JS_URL = f"/static/vendor/{CHART_JS_FILE.name}"
# sha384 of package/dist/chart.umd.min.js in chart.js-4.6.1.tgz, the file shipped here.
CHART_JS_INTEGRITY = "sha384-Emf5ZVIUiarAdhkgtqK+5/Z5qIvM6QoVrS+qAVtfyZVuD5lIHrac0me485+Antp0"
SCRIPT_MARKER = "<!-- chart.js -->"


def static_files() -> dict[str, Path]:
    """Every file under ``/static/`` (Chart.js included): URL path -> file on disk."""
    return {
        f"/static/{path.relative_to(STATIC_DIR).as_posix()}": path
        for path in sorted(STATIC_DIR.rglob("*"))
        if path.is_file()
    }


def render_page(template: str | None = None) -> str:
    """The page's HTML, with the Chart.js script tag (and its SRI hash) in place of its marker."""
    template = PAGE_TEMPLATE.read_text(encoding="utf-8") if template is None else template
    if template.count(SCRIPT_MARKER) != 1:
        raise ValueError(f"the page template must hold {SCRIPT_MARKER} exactly once")
    # Deferred like the page's own script, which runs after it: the HTML is parsed meanwhile.
    tag = f'<script src="{html.escape(CHART_JS_URL)}" integrity="{CHART_JS_INTEGRITY}" defer>'
    return template.replace(SCRIPT_MARKER, f"{tag}</script>")


def content_security_policy(connect_to: tuple[str, ...] = ()) -> str:
    """Scripts, styles and data from this origin only (plus the sign-in service's token endpoint
    in AWS); no inline script or style, no plugins, no framing, and Trusted Types so that no
    string can be assigned as HTML."""
    directives = {
        "default-src": ["'none'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'", *connect_to],
        "base-uri": ["'none'"],
        "form-action": ["'none'"],
        "frame-ancestors": ["'none'"],
        "require-trusted-types-for": ["'script'"],
        "trusted-types": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


def security_headers(policy: str) -> dict[str, str]:
    """The headers of every response: the CSP and the usual hardening."""
    return {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
