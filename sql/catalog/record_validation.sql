insert into blc.validation_result
(file_id, stage, suite, success, evaluated, failed_expectations)
values (:file_id, :stage, :suite, :success, :evaluated, cast(:failed as jsonb))
