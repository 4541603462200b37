"""``spotify-assets serve``: on 127.0.0.1 by default, over the data dir's stores; and its two
build options for the AWS deployment."""

import argparse
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile

import pytest

from spotify_assets import constants
from spotify_assets.cli import main
from spotify_assets.web import cli
from spotify_assets.web.page import CHART_JS_FILE, CHART_JS_URL
from spotify_assets_tests.web_support import WEB_PLAYLIST_IDS, web_lake


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers())
    return parser.parse_args(["serve", *argv])


def test_serve_listens_on_the_loopback_address_by_default():
    args = parse()
    assert (args.host, args.port) == ("127.0.0.1", 8000)
    assert cli.is_loopback(args.host) and cli.is_loopback("::1") and cli.is_loopback("localhost")
    assert not cli.is_loopback("0.0.0.0") and not cli.is_loopback("192.168.1.5")


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:8000/"),
        ("0.0.0.0", "http://127.0.0.1:8000/"),
        ("::1", "http://[::1]:8000/"),
        ("::", "http://[::1]:8000/"),
        ("dashboard.lan", "http://dashboard.lan:8000/"),
    ],
)
def test_serve_says_where_a_browser_finds_the_page(host, url):
    assert cli.dashboard_url(host, 8000) == url


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_serve_shows_the_dashboard_and_the_api_of_the_data_dir(tmp_path_factory):
    lake = web_lake(tmp_path_factory)
    port = free_port()
    environment = {
        **os.environ,
        constants.ENV_DATA_DIR: str(lake),
        constants.ENV_DEPLOYMENT: "local",
        "PYTHONUNBUFFERED": "1",
    }
    command = [sys.executable, "-m", "spotify_assets.cli", "serve", "--port", str(port)]
    server = subprocess.Popen(
        command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/playlists") as answer:
                    playlists = json.load(answer)["playlists"]
                    break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "no server"
                time.sleep(0.1)
        assert [p["playlist"] for p in playlists] == sorted(WEB_PLAYLIST_IDS)
        # A page of another site, whose name its owner points at 127.0.0.1, is refused.
        rebound = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/playlists", headers={"Host": f"evil.example:{port}"}
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(rebound)
        assert refused.value.code == 400 and json.load(refused.value)["error"]["status"] == 400
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/") as answer:
            assert "content-security-policy" in {k.lower() for k in answer.headers}
            page = answer.read()
            assert b'<select id="playlist"' in page
        # Chart.js as the package ships it, from this server: no npm, no CDN.
        assert f'<script src="{CHART_JS_URL}"'.encode() in page
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{CHART_JS_URL}") as answer:
            assert answer.read() == CHART_JS_FILE.read_bytes()
    finally:
        server.terminate()
        output = server.communicate(timeout=10)[0]
    assert f"Dashboard: http://127.0.0.1:{port}/" in output
    assert str(lake) in output


def test_serve_builds_the_lambda_zip_and_the_site(tmp_path, capsys):
    assert main(["serve", "--build-lambda", str(tmp_path / "api.zip")]) == 0
    assert (
        "spotify_assets/web/lambda_handler.py" in zipfile.ZipFile(tmp_path / "api.zip").namelist()
    )
    site = tmp_path / "site"
    domain = "https://dash.auth.eu-west-1.amazoncognito.com"
    argv = ["serve", "--build-site", str(site), "--cognito-domain", domain + "/"]
    assert main([*argv, "--cognito-client-id", "abc"]) == 0
    config = json.loads((site / "config.json").read_text())
    assert config["auth"] == {"domain": domain, "client_id": "abc", "scopes": "openid email"}
    assert "aws s3 sync" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(argv)  # a domain without its client
