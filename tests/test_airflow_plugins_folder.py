"""Airflow's plugin loader must not execute our packages as bare modules.

Airflow imports every ``.py`` file under ``plugins_folder`` under its file
name alone (``plugins/blc/tables.py`` becomes the module ``tables``), which
would shadow installed libraries such as PyTables and make two ``signs.py``
files collide. ``plugins/.airflowignore`` keeps the loader out.
"""

from __future__ import annotations

import sys
from pathlib import Path

from airflow._shared.plugins_manager.plugins_manager import (
    _load_plugins_from_plugin_directory,
)

PLUGINS = Path(__file__).resolve().parents[1] / "plugins"


def test_plugin_loader_runs_none_of_our_modules() -> None:
    before = set(sys.modules)
    plugins, errors = _load_plugins_from_plugin_directory(str(PLUGINS))
    added = set(sys.modules) - before
    assert plugins == []
    assert errors == {}
    assert not added & {"tables", "signs", "cli", "registry", "classify"}


def test_pytables_still_importable_after_plugin_loading() -> None:
    _load_plugins_from_plugin_directory(str(PLUGINS))
    import tables

    assert hasattr(tables, "open_file"), tables.__file__
