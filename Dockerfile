# The image of spotify_assets. By default a Dagster+ hybrid code location (`dg plus deploy`
# builds this file); `--build-arg EXTRAS=oss --target oss` builds self-hosted Dagster's
# webserver, daemon and runs instead (deploy/oss).
# Both stages on the same pinned Python; deploy/constraints.txt was resolved for it.
FROM python:3.11.14-slim-bookworm AS build
ARG EXTRAS=dagster-plus
# No pip cache in a layer that ships.
ENV PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY spotify_assets ./spotify_assets
COPY deploy/install.sh deploy/constraints.txt ./deploy/
RUN deploy/install.sh /opt/venv "${EXTRAS}"

FROM python:3.11.14-slim-bookworm AS runtime
COPY --from=build /opt/venv /opt/venv
# No root at run time: the code writes only to S3 and DynamoDB, and to $DAGSTER_HOME.
RUN groupadd --gid 10001 dagster \
    && useradd --uid 10001 --gid 10001 --home-dir /opt/dagster --create-home dagster \
    && install -d -o dagster -g dagster /opt/dagster/dagster_home
ENV PATH=/opt/venv/bin:$PATH \
    DAGSTER_HOME=/opt/dagster/dagster_home \
    PYTHONUNBUFFERED=1
WORKDIR /opt/dagster
USER 10001:10001

FROM runtime AS oss
COPY deploy/oss/dagster.yaml deploy/oss/workspace.yaml /opt/dagster/dagster_home/
WORKDIR /opt/dagster/dagster_home
# Where the UI's code links point (spotify_assets/code_references.py): the repository and the
# commit this image is built from, e.g. --build-arg GIT_URL=https://github.com/<owner>/<repo>
# --build-arg GIT_SHA="$(git rev-parse HEAD)". Unset, the links are the image's own file paths.
# Last, so that a new commit rebuilds no layer above.
ARG GIT_URL=""
ARG GIT_SHA=""
ENV SPOTIFY_ASSETS_GIT_URL=${GIT_URL} \
    SPOTIFY_ASSETS_GIT_SHA=${GIT_SHA}

# The last stage is the one `docker build` makes without --target: Dagster+'s.
FROM runtime AS dagster-plus
