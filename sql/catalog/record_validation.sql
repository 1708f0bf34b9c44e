insert into blc.validation_result
(file_id, stage, suite, success, evaluated, failed_expectations, severity, report_uri)
values (
    :file_id, :stage, :suite, :success, :evaluated, cast(:failed as jsonb),
    case
        when not :success then 'error'
        when jsonb_array_length(cast(:failed as jsonb)) > 0 then 'warning'
    end,
    :report_uri
)
