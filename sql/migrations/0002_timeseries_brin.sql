-- Time-series rows are appended file by file and never updated, so a file's rows, a cell's rows and a
-- cycle's rows each sit in a run of neighbouring pages. Block-range (BRIN) indexes find those runs at a
-- fraction of a B-tree's cost: bench/ measured a 1M-row COPY at 4.0 s with the two B-trees and 1.4 s with
-- BRIN (docs/adr/0004). Reads by cell, by cycle range and by file stay index scans.
drop index if exists blc.timeseries_cell_cycle_idx;
drop index if exists blc.timeseries_file_idx;
-- New page ranges are summarised by the next (auto)vacuum, which Postgres also starts after many inserts;
-- until then a BRIN scan reads them in full (correct, slower). `autosummarize = on` would summarise each
-- range as it fills, but cost 5 percent of a 5M-row load here (16.5 s against 15.6 s), so it stays off.
create index timeseries_file_brin on blc.timeseries using brin (file_id) with (pages_per_range = 16);
create index timeseries_cell_cycle_brin on blc.timeseries using brin (cell_id, cycle_index)
    with (pages_per_range = 16);

-- The cycle range of each loaded file: the processor reads a cell in batches of cycles (flat memory)
-- and needs to know the range without scanning the rows.
alter table blc.source_file add column first_cycle_index integer;
alter table blc.source_file add column last_cycle_index integer;
