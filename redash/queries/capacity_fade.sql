-- Retention against cycle index for the chosen cells (one series per cell), the cells' ageing cycles only
-- (capacity_fade.fade_series): an unfinished cycle would show as a false drop, a slow capacity check or a
-- rate test as a false jump.
-- cell_id is a multi-select query-based dropdown: Redash renders the chosen cells as 'a','b'.
with

fade as (
    select
        capacity_fade.cell_id,
        capacity_fade.cycle_index,
        capacity_fade.discharge_capacity_ah,
        capacity_fade.retention,
        capacity_fade.energy_retention
    from blc.capacity_fade as capacity_fade
    where
        capacity_fade.cell_id in ({{ cell_id }})
        and capacity_fade.fade_series = 'ageing'
),

summaries as (
    select
        cell_summary.cell_id,
        cell_summary.reference_capacity_ah
    from blc.cell_summary as cell_summary
    where cell_summary.cell_id in ({{ cell_id }})
),

final as (
    select
        fade.cell_id,
        fade.cycle_index,
        fade.discharge_capacity_ah,
        summaries.reference_capacity_ah,
        fade.retention,
        fade.retention * 100 as retention_pct,
        fade.energy_retention * 100 as energy_retention_pct
    from fade
    left join summaries on summaries.cell_id = fade.cell_id
)

select
    final.cell_id,
    final.cycle_index,
    final.discharge_capacity_ah,
    final.reference_capacity_ah,
    final.retention,
    final.retention_pct,
    final.energy_retention_pct
from final
order by final.cell_id, final.cycle_index
