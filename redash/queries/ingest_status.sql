-- The ingest ledger: the latest files first, their status and, for quarantined or failed files,
-- the reason (the ledger's error, else the validation suites that failed).
with

files as (
    select
        source_file.file_id,
        source_file.uri,
        source_file.cell_id,
        source_file.format,
        source_file.status,
        source_file.error,
        source_file.rows,
        source_file.first_seen,
        source_file.loaded_at
    from blc.source_file as source_file
),

failed_validations as (
    select
        validation_result.file_id,
        string_agg(
            validation_result.stage || ': ' || validation_result.suite,
            '; ' order by validation_result.at
        ) as failed_suites
    from blc.validation_result as validation_result
    where not validation_result.success
    group by validation_result.file_id
),

final as (
    select
        files.file_id,
        files.uri,
        files.cell_id,
        files.format,
        files.status,
        case
            when files.status in ('quarantined', 'failed')
                then coalesce(files.error, failed_validations.failed_suites)
        end as reason,
        files.rows,
        files.first_seen,
        files.loaded_at,
        coalesce(files.loaded_at, files.first_seen) as last_activity_at
    from files
    left join failed_validations on failed_validations.file_id = files.file_id
)

select
    final.file_id,
    final.uri,
    final.cell_id,
    final.format,
    final.status,
    final.reason,
    final.rows,
    final.first_seen,
    final.loaded_at
from final
order by final.last_activity_at desc nulls last, final.file_id desc
limit 1000
