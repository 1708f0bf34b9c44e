-- Dropdown values for the multi-select `cell_id` parameter: every cell that has processed cycles.
-- Redash reads the `value` and `name` columns of a query-based dropdown.
with

summaries as (
    select
        cell_summary.cell_id
    from blc.cell_summary as cell_summary
),

cells as (
    select
        cell.cell_id,
        cell.chemistry,
        cell.form_factor
    from blc.cell as cell
),

final as (
    select
        cells.cell_id as value,
        cells.cell_id
        || coalesce(' (' || nullif(concat_ws(', ', cells.chemistry, cells.form_factor), '') || ')', '')
            as name
    from cells
    inner join summaries on summaries.cell_id = cells.cell_id
)

select
    final.value,
    final.name
from final
order by final.value
