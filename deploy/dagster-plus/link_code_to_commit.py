"""Adds the repository's URL and the commit being deployed to a Dagster+ container context, so
that the UI links each asset to its code at that commit (spotify_assets/code_references.py).

The deploy workflow runs it before `dg plus deploy`, which builds the image with no build
arguments: the commit reaches the code servers as environment variables instead. It reads
GitHub Actions' own GITHUB_SERVER_URL, GITHUB_REPOSITORY and GITHUB_SHA.

    python deploy/dagster-plus/link_code_to_commit.py container_context.yaml
"""

import os
import sys

import yaml


def main(path: str) -> None:
    with open(path, encoding="utf-8") as file:
        context = yaml.safe_load(file)
    repository = f"{os.environ['GITHUB_SERVER_URL']}/{os.environ['GITHUB_REPOSITORY']}"
    context["ecs"].setdefault("env_vars", []).extend(
        [
            f"SPOTIFY_ASSETS_GIT_URL={repository}",
            f"SPOTIFY_ASSETS_GIT_SHA={os.environ['GITHUB_SHA']}",
        ]
    )
    with open(path, "w", encoding="utf-8") as file:
        yaml.safe_dump(context, file, sort_keys=False, width=200)


if __name__ == "__main__":
    main(sys.argv[1])
