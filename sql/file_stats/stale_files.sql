select file_id from blc.source_file as f
where f.cell_id = :cell and f.status in ('loaded', 'processed')
and (:all or not exists (select 1 from blc.file_cycle_stats as s
where s.file_id = f.file_id and s.processor_version = :version))
order by file_id
