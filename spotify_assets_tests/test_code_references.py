"""Every asset links to its code: locally its file and line, in a deployment the same file and
line in the repository at the deployed commit (the variables set by the deploy workflow, the
self-hosted image or a Dagster+ branch deployment)."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

import spotify_assets
from spotify_assets import code_references
from spotify_assets.assets import all_assets
from spotify_assets.definitions import defs

REPOSITORY = "https://github.com/example/spotify_assets"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
PACKAGE_DIR = Path(spotify_assets.__file__).parent
CODE_REFERENCES = "dagster/code_references"

PRINT_CODE_REFERENCES = f"""
import json
from spotify_assets.definitions import defs
graph = defs.resolve_asset_graph()
print(json.dumps({{
    key.to_user_string(): [
        reference.url
        for reference in graph.get(key).metadata[{CODE_REFERENCES!r}].code_references
    ]
    for key in graph.materializable_asset_keys
}}))
"""


def _references(asset_graph) -> dict[str, list]:
    return {
        key.to_user_string(): asset_graph.get(key).metadata[CODE_REFERENCES].code_references
        for key in asset_graph.materializable_asset_keys
    }


@pytest.fixture
def no_git_variables(monkeypatch):
    for variable in (
        code_references.ENV_GIT_URL,
        code_references.ENV_GIT_SHA,
        code_references.ENV_DAGSTER_CLOUD_GIT_SHA,
    ):
        monkeypatch.delenv(variable, raising=False)


def test_every_asset_links_to_the_line_of_its_function_locally():
    references = _references(defs.resolve_asset_graph())
    assert references
    for key, [reference] in references.items():
        assert isinstance(reference, dg.LocalFileCodeReference), key
        path = Path(reference.file_path)
        assert path.is_file() and path.is_relative_to(PACKAGE_DIR), (key, path)
        # The function's first line: its first decorator, or its `def`.
        line = path.read_text(encoding="utf-8").splitlines()[reference.line_number - 1]
        assert line.strip().startswith(("@", "def ")), (key, reference.line_number, line)


def test_with_the_repository_and_the_commit_the_links_go_to_that_commit(tmp_path):
    local = {
        key: (Path(reference.file_path), reference.line_number)
        for key, [reference] in _references(defs.resolve_asset_graph()).items()
    }
    # The definitions are built at import: a fresh process, as a deployment starts.
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("SPOTIFY_", "DAGSTER_", "AWS_"))
    }
    env |= {
        "SPOTIFY_ASSETS_ENV": "local",
        "SPOTIFY_ASSETS_DATA_DIR": str(tmp_path),
        code_references.ENV_GIT_URL: REPOSITORY + "/",
        code_references.ENV_GIT_SHA: COMMIT,
    }
    result = subprocess.run(
        [sys.executable, "-c", PRINT_CODE_REFERENCES],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    urls = json.loads(result.stdout.splitlines()[-1])
    assert set(urls) == set(local)
    for key, [url] in urls.items():
        # Dagster writes GitHub links as /tree/<ref>/<path>; GitHub shows a file's at /blob/.
        match = re.fullmatch(
            rf"{re.escape(REPOSITORY)}/tree/{COMMIT}/(spotify_assets/[\w/]+\.py)#L(\d+)", url
        )
        assert match, (key, url)
        path, line = local[key]
        assert match[1] == path.relative_to(PACKAGE_DIR.parent).as_posix(), (key, url)
        assert int(match[2]) == line, (key, url)


def test_a_branch_deployment_takes_its_commit_from_dagster_plus(no_git_variables, monkeypatch):
    monkeypatch.setenv(code_references.ENV_GIT_URL, REPOSITORY)
    monkeypatch.setenv(code_references.ENV_DAGSTER_CLOUD_GIT_SHA, COMMIT)
    assert code_references.git_location() == (REPOSITORY, COMMIT)
    # The commit the workflow (or the image) names wins over Dagster+'s.
    monkeypatch.setenv(code_references.ENV_GIT_SHA, "f" * 40)
    assert code_references.git_location() == (REPOSITORY, "f" * 40)


@pytest.mark.parametrize(
    "variables",
    [
        {},
        {code_references.ENV_GIT_URL: REPOSITORY},
        {code_references.ENV_GIT_SHA: COMMIT},
        # The self-hosted image built without --build-arg: both baked in empty.
        {code_references.ENV_GIT_URL: "", code_references.ENV_GIT_SHA: " "},
    ],
)
def test_without_both_the_links_stay_local(no_git_variables, monkeypatch, variables):
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert code_references.git_location() is None
    for assets_def in code_references.with_code_references(all_assets):
        for metadata in assets_def.metadata_by_key.values():
            for reference in metadata[CODE_REFERENCES].code_references:
                assert isinstance(reference, dg.LocalFileCodeReference)
