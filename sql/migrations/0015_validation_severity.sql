-- Findings have a severity (expectations/*.json, each expectation's meta): an error quarantines the file,
-- a warning is recorded and the file loads. A validation run keeps its worst finding's severity, and
-- blc.validation_finding lists every finding a row each, for `blc status` and the Redash validation board.
alter table blc.validation_result
    add column severity text check (severity in ('error', 'warning'));

update blc.validation_result set severity = 'error' where not success;

create view blc.validation_finding as
select
    result.validation_id,
    result.file_id,
    source_file.uri,
    source_file.cell_id,
    source_file.status,
    result.stage,
    result.suite,
    coalesce(finding ->> 'severity', 'error') as severity,
    finding ->> 'rule' as rule,
    finding ->> 'column' as column_name,
    cast(finding ->> 'unexpected_count' as bigint) as unexpected_count,
    cast(coalesce(finding -> 'first_rows' ->> 0, finding ->> 'line') as bigint) as first_line,
    finding -> 'examples' ->> 0 as first_value,
    result.at
from blc.validation_result as result
inner join blc.source_file as source_file on source_file.file_id = result.file_id
cross join lateral jsonb_array_elements(result.failed_expectations) as finding;
