"""``spotify-assets login`` against the fake Spotify: consent URL, redirect on 127.0.0.1, the
refresh token and what to do with it, and the ways a login fails."""

import datetime as dt
import threading
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from spotify_assets import cli
from spotify_assets.sources.login import LoginError, instructions, login
from spotify_assets_tests.fake_spotify import (
    AUTHORIZATION_CODE,
    CLIENT_ID,
    CLIENT_SECRET,
    OWNER,
    REFRESH_TOKEN,
    FakeSpotify,
)


@pytest.fixture
def spotify():
    with FakeSpotify() as fake:
        yield fake


class Browser:
    """Opens a URL the way a browser would, in the background, following redirects."""

    def __init__(self, rewrite=None) -> None:
        self.opened: list[str] = []
        self.pages: list[requests.Response] = []
        self._rewrite = rewrite or (lambda url: url)

    def __call__(self, url: str) -> bool:
        self.opened.append(url)

        def visit():
            self.pages.append(requests.get(self._rewrite(url), timeout=5))

        threading.Thread(target=visit, daemon=True).start()
        return True


def _login(spotify, browser, **options) -> dict:
    return login(
        CLIENT_ID,
        CLIENT_SECRET,
        port=0,
        accounts_url=spotify.accounts_base_url,
        api_url=spotify.api_base_url,
        open_browser=browser,
        timeout_seconds=options.pop("timeout_seconds", 5),
        say=options.pop("say", lambda text: None),
    )


def test_login_trades_the_consent_for_a_refresh_token(spotify, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    browser, said = Browser(), []

    token_info = _login(spotify, browser, say=said.append)

    assert token_info["refresh_token"] == REFRESH_TOKEN
    assert token_info["user"]["id"] == OWNER["id"]
    [consent_url] = browser.opened
    consent = {key: values[0] for key, values in parse_qs(urlsplit(consent_url).query).items()}
    assert consent_url.startswith(f"{spotify.accounts_base_url}/authorize?")
    assert consent["client_id"] == CLIENT_ID
    assert consent["response_type"] == "code"
    assert consent["scope"] == "playlist-read-collaborative playlist-read-private"
    assert consent["redirect_uri"].startswith("http://127.0.0.1:")
    assert consent["redirect_uri"].endswith("/callback")
    assert any(consent_url in text for text in said)
    [token_request] = [r for r in spotify.requests if r.path == "/api/token"]
    assert token_request.form["grant_type"] == "authorization_code"
    assert token_request.form["code"] == AUTHORIZATION_CODE
    assert token_request.form["redirect_uri"] == consent["redirect_uri"]
    assert [r.path for r in spotify.requests] == ["/authorize", "/api/token", "/v1/me/"]
    assert browser.pages[0].status_code == 200
    assert "You can close this tab" in browser.pages[0].text
    assert list(tmp_path.iterdir()) == []  # no token cache file


def test_the_instructions_say_where_the_token_goes_and_when_it_expires():
    text = instructions(
        {"refresh_token": REFRESH_TOKEN, "user": OWNER}, today=dt.date(2026, 11, 16)
    )
    assert f"SPOTIFY_REFRESH_TOKEN={REFRESH_TOKEN}" in text
    assert "Logged in as Fake Owner (fake_owner)" in text
    assert ".env file next to pyproject.toml" in text
    assert "expires 6 months after this consent, around 2027-05-17" in text
    assert "run `spotify-assets login` again" in text


def test_a_refused_consent_fails_the_login(spotify):
    def deny(url):
        query = parse_qs(urlsplit(url).query)
        redirect, state = query["redirect_uri"][0], query["state"][0]
        return f"{redirect}?error=access_denied&state={state}"

    with pytest.raises(LoginError, match=r"did not give consent \(access_denied\)"):
        _login(spotify, Browser(rewrite=deny))


def test_an_answer_for_another_login_is_refused_and_the_login_goes_on(spotify):
    browser = Browser()

    def forged_then_real(url: str) -> bool:
        redirect = parse_qs(urlsplit(url).query)["redirect_uri"][0]

        def visit():
            browser.pages.append(
                requests.get(f"{redirect}?code=stolen&state=not-this-one", timeout=5)
            )
            browser.pages.append(requests.get(url, timeout=5))

        threading.Thread(target=visit, daemon=True).start()
        return True

    token_info = _login(spotify, forged_then_real)

    assert browser.pages[0].status_code == 400
    assert "another login attempt" in browser.pages[0].text
    assert token_info["refresh_token"]
    [exchange] = [r for r in spotify.requests if r.path == "/api/token"]
    assert exchange.form["code"] != "stolen"


def test_a_login_nobody_answers_ends_after_its_timeout(spotify):
    with pytest.raises(LoginError, match="no answer from Spotify's consent page within 0.2 s"):
        _login(spotify, None, timeout_seconds=0.2)


def test_the_command_prints_the_refresh_token(spotify, monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SPOTIFY_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("SPOTIFY_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("SPOTIFY_ACCOUNTS_BASE_URL", spotify.accounts_base_url)
    monkeypatch.setenv("SPOTIFY_API_BASE_URL", spotify.api_base_url)
    monkeypatch.setattr("webbrowser.open", Browser())

    assert cli.main(["login", "--port", "0", "--timeout", "5"]) == 0

    out = capsys.readouterr().out
    assert f"SPOTIFY_REFRESH_TOKEN={REFRESH_TOKEN}" in out
    assert "Opened in your browser" in out


def test_the_command_reads_the_dotenv_and_reports_a_failure(spotify, monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SPOTIFY_CLIENT_ID", raising=False)
    monkeypatch.delenv("SPOTIFY_CLIENT_SECRET", raising=False)
    (tmp_path / ".env").write_text(
        f"SPOTIFY_CLIENT_ID={CLIENT_ID}\nSPOTIFY_CLIENT_SECRET={CLIENT_SECRET}\n"
    )
    monkeypatch.setenv("SPOTIFY_ACCOUNTS_BASE_URL", spotify.accounts_base_url)
    monkeypatch.setattr("builtins.input", lambda prompt="": pytest.fail("prompted"))

    assert cli.main(["login", "--no-browser", "--port", "0", "--timeout", "0.1"]) == 1

    captured = capsys.readouterr()
    assert f"{spotify.accounts_base_url}/authorize?client_id={CLIENT_ID}" in captured.out
    assert "Login failed: no answer from Spotify's consent page" in captured.err


def test_a_refused_code_says_what_to_check(spotify):
    spotify.answer(
        "POST", "/api/token", 400, body={"error": "invalid_client", "error_description": "x"}
    )
    with pytest.raises(LoginError, match=r"Spotify refused the code \(invalid_client\): check"):
        _login(spotify, Browser())


def test_a_redirected_code_exchange_sends_nothing_to_the_target(spotify):
    with FakeSpotify() as elsewhere:
        target = f"{elsewhere.accounts_base_url}/api/token"
        spotify.answer("POST", "/api/token", 307, headers={"Location": target})

        with pytest.raises(LoginError) as error:
            _login(spotify, Browser())

        assert elsewhere.requests == []
    assert str(error.value) == (
        f"{spotify.accounts_base_url}/api/token: answered 307 with a redirect to {target}, "
        "which is never followed (nothing was sent there): check SPOTIFY_ACCOUNTS_BASE_URL and "
        "run `spotify-assets login` again"
    )


def test_login_without_a_terminal_names_the_settings_instead_of_asking(
    monkeypatch, capsys, tmp_path
):
    import io

    from spotify_assets.cli import main

    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.delenv("SPOTIFY_CLIENT_ID", raising=False)
    monkeypatch.delenv("SPOTIFY_CLIENT_SECRET", raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    monkeypatch.setattr("builtins.input", lambda prompt="": pytest.fail("prompted"))

    assert main(["login", "--no-browser"]) == 2
    error = capsys.readouterr().err
    assert "SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET are needed" in error
    assert ".env" in error
