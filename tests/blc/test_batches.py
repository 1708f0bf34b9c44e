"""How discovery groups files into tasks: large files alone, small ones together, never fewer groups than
tasks may run at once (when there are that many files), every file exactly once, in its order."""

from __future__ import annotations

import pytest

from blc.discover import BATCH_FILES, LARGE_FILE_BYTES, batched

KB = 1024


def _files(count: int, size: int, prefix: str = "f") -> dict[str, int]:
    return {f"file:///d/{prefix}{n:03d}.csv": size for n in range(count)}


@pytest.mark.parametrize(
    ("count", "slots", "groups"),
    [(0, 4, 0), (1, 4, 1), (3, 4, 3), (4, 4, 4), (10, 4, 4), (200, 4, 8), (200, 2, 8), (51, 1, 3)],
)
def test_small_files_in_groups(count: int, slots: int, groups: int) -> None:
    sizes = _files(count, 500 * KB)
    uris = list(sizes)

    got = batched(uris, sizes, slots=slots)

    assert len(got) == groups
    assert sorted(uri for group in got for uri in group) == uris  # each file once
    assert all(len(group) <= BATCH_FILES for group in got)
    assert all(group == sorted(group) for group in got)  # the discovery order kept inside a group
    if got:
        assert max(map(len, got)) - min(map(len, got)) <= 1  # evenly spread


def test_a_large_file_has_a_task_of_its_own() -> None:
    sizes = {**_files(6, 100 * KB), "file:///d/big.csv": LARGE_FILE_BYTES}

    got = batched(list(sizes), sizes, slots=2)

    assert ["file:///d/big.csv"] in got
    assert sorted(map(len, got)) == [1, 3, 3]


def test_many_megabytes_of_small_files_split_by_bytes() -> None:
    sizes = _files(20, 7 << 20)  # 140 MB of files just under the large size: at most ~64 MB per task

    got = batched(list(sizes), sizes, slots=1)

    assert len(got) == 3 and all(sum(sizes[u] for u in group) <= 7 * (7 << 20) for group in got)
