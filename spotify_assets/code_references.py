"""Links from every asset in the UI to the code that defines it.

Locally an asset's *Code* link opens its file at the line of its function. A deployment runs the
package installed in an image, whose paths mean nothing to a reader, so there the links go to the
same file and line in the repository at the commit the image was built from: set
``SPOTIFY_ASSETS_GIT_URL`` (``https://github.com/<owner>/<repo>``) and ``SPOTIFY_ASSETS_GIT_SHA``
(the deploy workflow sets both for Dagster+, the self-hosted image bakes them in at build time),
or let a Dagster+ branch deployment supply the commit in ``DAGSTER_CLOUD_GIT_SHA``.
"""

import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import dagster as dg

import spotify_assets

ENV_GIT_URL = "SPOTIFY_ASSETS_GIT_URL"
ENV_GIT_SHA = "SPOTIFY_ASSETS_GIT_SHA"
# Set by Dagster+ in branch deployments only.
ENV_DAGSTER_CLOUD_GIT_SHA = "DAGSTER_CLOUD_GIT_SHA"
# The package's own __init__.py, in the repository: every other file is placed relative to it.
PACKAGE_ANCHOR_IN_REPOSITORY = "spotify_assets/__init__.py"


def git_location() -> tuple[str, str] | None:
    """The repository's URL and the commit the running code comes from, or None when either is
    unknown (a laptop): the variables of the module's docstring, blank ones counting as unset."""
    url = os.environ.get(ENV_GIT_URL, "").strip().rstrip("/")
    sha = (
        os.environ.get(ENV_GIT_SHA, "").strip()
        or os.environ.get(ENV_DAGSTER_CLOUD_GIT_SHA, "").strip()
    )
    return (url, sha) if url and sha else None


def with_code_references(assets_defs: Sequence[dg.AssetsDefinition]) -> Sequence:
    """``assets_defs`` with a code reference on every asset: the local file and line, or, when
    :func:`git_location` knows the repository and the commit, that file and line there."""
    location = git_location()
    with warnings.catch_warnings():
        # Code references are marked beta: said once per class and call, at every start-up.
        warnings.simplefilter("ignore", dg.BetaWarning)
        referenced = dg.with_source_code_references(assets_defs)
        if location is None:
            return referenced
        url, sha = location
        return dg.link_code_references_to_git(
            referenced,
            git_url=url,
            # A commit, not a branch: the lines stay those of the code that runs.
            git_branch=sha,
            file_path_mapping=dg.AnchorBasedFilePathMapping(
                local_file_anchor=Path(spotify_assets.__file__),
                file_anchor_path_in_repository=PACKAGE_ANCHOR_IN_REPOSITORY,
            ),
        )
