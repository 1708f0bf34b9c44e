-- The cycle_stats suite's warnings for a cell, recorded against its newest file (replacing what an earlier
-- processing recorded there). Binds: :cell_id, :failed (jsonb array), :evaluated.
with

newest as (
    select max(source_file.file_id) as file_id
    from blc.source_file as source_file
    where source_file.cell_id = :cell_id and source_file.status in ('loaded', 'processed')
),

cleared as (
    delete from blc.validation_result as validation_result
    using newest
    where validation_result.file_id = newest.file_id and validation_result.stage = 'cycle'
)

insert into blc.validation_result (file_id, stage, suite, success, evaluated, failed_expectations, severity)
select newest.file_id, 'cycle', 'cycle_stats', true, :evaluated, cast(:failed as jsonb), 'warning'
from newest
where newest.file_id is not null and jsonb_array_length(cast(:failed as jsonb)) > 0
