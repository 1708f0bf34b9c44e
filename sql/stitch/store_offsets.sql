update blc.source_file set stitch_position = :position, cycle_offset = :cycles,
test_time_offset_second = :seconds where file_id = :file
