-- Every finding of the data-quality suites, newest first: errors (the file was quarantined) and warnings
-- (the file loaded, the finding recorded), with the rule, the column, how many rows broke it and the first
-- line. One row per finding (blc.validation_finding).
with

findings as (
    select
        validation_finding.at,
        validation_finding.severity,
        substring(validation_finding.uri from '[^/]*$') as file,
        validation_finding.file_id,
        validation_finding.cell_id,
        validation_finding.status,
        validation_finding.stage,
        validation_finding.rule,
        validation_finding.column_name,
        validation_finding.unexpected_count,
        validation_finding.first_line,
        validation_finding.first_value
    from blc.validation_finding as validation_finding
),

final as (
    select
        findings.at,
        findings.severity,
        findings.file,
        findings.file_id,
        findings.cell_id,
        findings.status,
        findings.stage,
        findings.rule,
        findings.column_name,
        findings.unexpected_count,
        findings.first_line,
        findings.first_value
    from findings
)

select
    final.at,
    final.severity,
    final.file,
    final.file_id,
    final.cell_id,
    final.status,
    final.stage,
    final.rule,
    final.column_name,
    final.unexpected_count,
    final.first_line,
    final.first_value
from final
order by final.at desc, final.file_id desc, final.severity asc
limit 1000
