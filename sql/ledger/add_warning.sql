update blc.source_file set warnings = warnings || cast(:w as jsonb), updated_at = now()
where file_id = :id
