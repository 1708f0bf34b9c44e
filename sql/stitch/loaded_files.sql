select file_id, uri, last_cycle_index, clock_start_unix_second as clock,
test_time_first_second as first, test_time_last_second as last, cycle_rule,
first_cycle_count, last_cycle_count from blc.source_file
where cell_id = :cell and status in ('loaded', 'processed')
