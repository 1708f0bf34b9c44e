-- `blc reprocess` and the blc_reprocess DAG: cells with loaded files, all of them (:every) or those whose
-- statistics (per file, per cycle or summary) are missing or of another processor version (:version).
select distinct source_file.cell_id
from blc.source_file as source_file
where
    source_file.cell_id is not null
    and source_file.status in ('loaded', 'processed')
    and (
        :every
        or not exists (
            select 1 from blc.file_cycle_stats as file_stats
            where file_stats.file_id = source_file.file_id and file_stats.processor_version = :version
        )
        or exists (
            select 1 from blc.cycle_stats as cycle_stats
            where cycle_stats.cell_id = source_file.cell_id and cycle_stats.processor_version <> :version
        )
        or not exists (
            select 1 from blc.cell_summary as summary
            where summary.cell_id = source_file.cell_id and summary.processor_version = :version
        )
    )
order by source_file.cell_id
