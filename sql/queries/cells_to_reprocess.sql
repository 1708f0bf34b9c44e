-- `blc reprocess` and the blc_reprocess DAG: cells with loaded files, all of them (:every) or those whose
-- statistics (per file, per cycle or summary) are missing or of another processor version (:version);
-- narrowed to one project (:project, its name) and to cells with a file loaded at or after :since.
select distinct source_file.cell_id
from blc.source_file as source_file
inner join blc.cell as cell on cell.cell_id = source_file.cell_id
inner join blc.project as project on project.project_id = cell.project_id
where
    source_file.status in ('loaded', 'processed')
    and (cast(:project as text) is null or project.name = :project)
    and (cast(:since as timestamptz) is null or source_file.loaded_at >= cast(:since as timestamptz))
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
