# One image for every Airflow component of docker-compose.yml (api-server, scheduler, dag-processor,
# triggerer, Celery worker, init). Build: `docker compose build`.
FROM apache/airflow:3.3.2-python3.11

# sql/, expectations/ and redash/ sit beside dags/ and plugins/ under AIRFLOW_HOME; the installed
# package finds them through BLC_PROJECT_ROOT (see plugins/blc/settings.py).
ENV AIRFLOW__CORE__DAGS_FOLDER=/opt/airflow/dags \
    AIRFLOW__CORE__PLUGINS_FOLDER=/opt/airflow/plugins \
    AIRFLOW__CORE__LOAD_EXAMPLES=false \
    BLC_PROJECT_ROOT=/opt/airflow

# mdbtools reads Arbin .res files (Microsoft Access databases): without it they are refused.
USER root
RUN apt-get update \
    && apt-get install -y --no-install-recommends mdbtools \
    && apt-get clean && rm -rf /var/lib/apt/lists/*

USER airflow
WORKDIR /opt/airflow

# Dependencies first: this layer is rebuilt only when the lock changes. requirements-runtime.lock is the
# runtime only (no test tools, no GPL-licensed optional reader), pinned to the same versions as the
# development lock (`uv pip compile pyproject.toml -c requirements.lock -o requirements-runtime.lock`).
# It pins apache-airflow itself, so the base image's Airflow cannot drift, and Celery below 5.7 (5.7.0
# breaks the Celery executor: "cannot import name 'retry' from 'celery.backends.database'").
COPY --chown=airflow:0 requirements-runtime.lock /opt/airflow/requirements-runtime.lock
RUN pip install --no-cache-dir -r /opt/airflow/requirements-runtime.lock

# The project itself, without dependencies (all pinned above); gives the `blc` console script.
COPY --chown=airflow:0 pyproject.toml README.md /tmp/blc-src/
COPY --chown=airflow:0 plugins/ /tmp/blc-src/plugins/
RUN pip install --no-cache-dir --no-deps /tmp/blc-src && rm -rf /tmp/blc-src

COPY --chown=airflow:0 dags/ /opt/airflow/dags/
COPY --chown=airflow:0 plugins/ /opt/airflow/plugins/
COPY --chown=airflow:0 sql/ /opt/airflow/sql/
COPY --chown=airflow:0 expectations/ /opt/airflow/expectations/
COPY --chown=airflow:0 redash/ /opt/airflow/redash/
