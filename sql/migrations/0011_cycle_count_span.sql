-- The instrument's cycle counter at each file's first and last row: a file that starts with the counter
-- value the previous file of the cell ended with (a resumed test) continues that cycle, so stitching merges
-- the two parts into one cycle instead of leaving a cycle cut by a file boundary as two (issue 4).
alter table blc.source_file
    add column first_cycle_count integer,
    add column last_cycle_count  integer;
