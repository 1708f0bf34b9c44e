-- Per-cycle statistics of one file, computed while the file is streamed in (no second read of its rows).
-- A cell made of one file (the common case) takes its cycle_stats straight from here; a cell of several
-- files, or stats of an older processor version, are recomputed from blc.timeseries (docs/adr/0004).
create table blc.file_cycle_stats (
    file_id bigint not null references blc.source_file (file_id) on delete cascade,
    like blc.cycle_stats including defaults
);
alter table blc.file_cycle_stats drop column cell_id, drop column computed_at;
alter table blc.file_cycle_stats add primary key (file_id, cycle_index);
