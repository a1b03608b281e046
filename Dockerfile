# piper's code as one image: the Dagster code server (where runs execute, with the spool and
# the data root mounted), the webserver and the daemon. Built by docker-compose.yml.
FROM python:3.11.13-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    UV_LINK_MODE=copy \
    UV_COMPILE_BYTECODE=1 \
    UV_PROJECT_ENVIRONMENT=/opt/piper/.venv

RUN pip install --no-cache-dir "uv==0.13.8"

WORKDIR /opt/piper
# Dependencies first (from the committed lock): code edits do not reinstall them.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
# The package carries its SQL, default settings and instance files (piper_dagster/sql, conf, deploy).
COPY piper_dagster ./piper_dagster
COPY deploy ./deploy
RUN uv sync --frozen --no-dev

# In the containers piper's paths are fixed; the host paths behind them are docker-compose's
# PIPER_RAW_ROOT and PIPER_DATA_ROOT. The instance (Postgres storage, queued run coordinator)
# lives in the image, not on the shared data volume that three containers would rewrite.
ENV PATH=/opt/piper/.venv/bin:$PATH \
    PIPER_PATHS__RAW_ROOT=/var/spool/piper \
    PIPER_PATHS__DATA_ROOT=/var/lib/piper \
    PIPER_DAGSTER__STORAGE=postgres \
    DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS=true \
    DAGSTER_HOME=/opt/dagster/home
RUN mkdir -p "$DAGSTER_HOME" && cp piper_dagster/deploy/dagster.postgres.yaml "$DAGSTER_HOME/dagster.yaml"
