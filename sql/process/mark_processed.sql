update blc.source_file set status = 'processed', updated_at = now()
where cell_id = :cell_id and status = 'loaded'
