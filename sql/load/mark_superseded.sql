update blc.source_file set status = 'superseded', updated_at = now()
where file_id = :id and status in ('loaded', 'processed', 'stable', 'failed')
