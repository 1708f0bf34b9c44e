select file_id, coalesce(cycle_offset, 0) as cycles,
coalesce(test_time_offset_second, 0) as seconds from blc.source_file
where cell_id = :cell and status in ('loaded', 'processed')
