select cycle_count, min(cycle_index) from blc.timeseries
where file_id = :file and cycle_count is not null group by cycle_count
