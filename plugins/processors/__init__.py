"""Pure processors: arrays or DataFrames in, DataFrames out. No Airflow, no database, no files."""
