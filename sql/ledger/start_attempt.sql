update blc.source_file set status = 'ingesting', error = null, warnings = '[]',
attempts = attempts + 1,
updated_at = now() where file_id = :id
