"""The dashboard page: its HTML, where its Chart.js comes from, and its Content-Security-Policy.

Chart.js is an npm dependency pinned in ``package.json`` beside this module. Where ``npm ci`` ran
in this folder, the page loads the installed file (``/vendor/chart.js@<version>/...``), and the
AWS site uploads that file; where it did not (a plain ``pip install``), the page loads the same
version from jsDelivr. Both carry the SRI hash of the file in the npm tarball, so a browser
runs those bytes or nothing.
"""

import html
from dataclasses import dataclass
from pathlib import Path

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"
PAGE_TEMPLATE = WEB_DIR / "page.html"
CHART_JS_VERSION = "4.6.1"
CHART_JS_FILE = "chart.umd.min.js"
# sha384 of package/dist/chart.umd.min.js in chart.js-4.6.1.tgz as registry.npmjs.org serves it.
CHART_JS_INTEGRITY = "sha384-Emf5ZVIUiarAdhkgtqK+5/Z5qIvM6QoVrS+qAVtfyZVuD5lIHrac0me485+Antp0"
CHART_JS_INSTALLED = WEB_DIR / "node_modules" / "chart.js" / "dist"
# The version in the path: a browser may keep the file for good.
CHART_JS_VENDOR_PATH = f"/vendor/chart.js@{CHART_JS_VERSION}/{CHART_JS_FILE}"
CHART_JS_CDN_URL = f"https://cdn.jsdelivr.net/npm/chart.js@{CHART_JS_VERSION}/dist/{CHART_JS_FILE}"
SCRIPT_MARKER = "<!-- chart.js -->"


@dataclass(frozen=True)
class Script:
    """A script the page loads: its URL and Subresource Integrity hash."""

    url: str
    integrity: str

    @property
    def cross_origin(self) -> bool:
        return self.url.startswith("https://")


def chart_js_installed(installed_dir: Path = CHART_JS_INSTALLED) -> Path | None:
    """The Chart.js file npm installed here, or None without ``npm ci``."""
    path = installed_dir / CHART_JS_FILE
    return path if path.is_file() else None


def chart_js_script(installed_dir: Path = CHART_JS_INSTALLED) -> Script:
    """The installed Chart.js when there is one, else the pinned version from the CDN."""
    url = CHART_JS_VENDOR_PATH if chart_js_installed(installed_dir) else CHART_JS_CDN_URL
    return Script(url, CHART_JS_INTEGRITY)


def script_tag(script: Script) -> str:
    attributes = [f'src="{html.escape(script.url)}"', f'integrity="{script.integrity}"']
    if script.cross_origin:
        # SRI on another origin's script needs CORS; no cookies or referrer go with it.
        attributes += ['crossorigin="anonymous"', 'referrerpolicy="no-referrer"']
    return f"<script {' '.join(attributes)}></script>"


def render_page(chart_js: Script, template: str | None = None) -> str:
    """The page's HTML, with the Chart.js script tag in place of its marker."""
    template = PAGE_TEMPLATE.read_text(encoding="utf-8") if template is None else template
    if template.count(SCRIPT_MARKER) != 1:
        raise ValueError(f"the page template must hold {SCRIPT_MARKER} exactly once")
    return template.replace(SCRIPT_MARKER, script_tag(chart_js))


def content_security_policy(chart_js: Script, connect_to: tuple[str, ...] = ()) -> str:
    """Scripts, styles and data from this origin only (plus the pinned CDN file, and the sign-in
    service's token endpoint in AWS); no inline script or style, no plugins, no framing, and
    Trusted Types so that no string can be assigned as HTML."""
    script_sources = ["'self'"] + ([chart_js.url] if chart_js.cross_origin else [])
    directives = {
        "default-src": ["'none'"],
        "script-src": script_sources,
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
