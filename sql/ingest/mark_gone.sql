update blc.source_file set status = 'failed', updated_at = now(),
error = :error where uri = :uri and status = 'stable'
