-- First start of the postgres container only (docker-entrypoint-initdb.d runs it once, on an empty volume).
-- One role and one database per component; passwords come from the container's environment through
-- psql's \getenv, so none is written here. Run as the superuser by the image's entrypoint.
\set ON_ERROR_STOP on

\getenv airflow_db_password AIRFLOW_DB_PASSWORD
\getenv blc_db_password BLC_DB_PASSWORD
\getenv redash_db_password REDASH_DB_PASSWORD

-- Airflow metadata.
create role airflow login password :'airflow_db_password';
create database airflow owner airflow;

-- Battery data (schema blc, migrations by `blc db upgrade`). Airflow tasks and the CLI write as this owner
-- (docs/design.md §8). CREATEROLE: `blc db upgrade` makes blc_reader and `blc project add` one read-only
-- role per project (docs/access.md); it can manage only the roles it created.
create role blc_owner login createrole password :'blc_db_password';
create database blc owner blc_owner;
revoke all on database blc from public;

-- Redash's own metadata (users, queries, dashboards); not the data Redash reads.
create role redash login password :'redash_db_password';
create database redash owner redash;
