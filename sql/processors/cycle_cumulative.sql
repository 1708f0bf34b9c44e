-- Cumulative figures of one cell's cycles (docs/design.md §11): throughput = charge + discharge Ah (Wh) moved up to
-- the end of each cycle; equivalent full cycles = cumulative discharge Ah ÷ the cell's nominal capacity, or
-- its reference capacity when no nominal one is known (cell_summary.capacity_basis says which). Rows
-- whose figures are unchanged are not rewritten.
-- Binds: :cell_id, :formation_cycles.
with

basis as (
    select coalesce(cell.nominal_capacity_ah::double precision, reference.capacity_ah) as capacity_ah
    from blc.cell as cell
    cross join blc.reference_capacity(:cell_id, :formation_cycles) as reference
    where cell.cell_id = :cell_id
),

running as (
    select
        cycle_stats.cycle_index,
        sum(cycle_stats.charge_capacity_ah + cycle_stats.discharge_capacity_ah) over cell_order
            as throughput_ah,
        sum(cycle_stats.charge_energy_wh + cycle_stats.discharge_energy_wh) over cell_order as throughput_wh,
        sum(cycle_stats.discharge_capacity_ah) over cell_order as discharged_ah
    from blc.cycle_stats as cycle_stats
    where cycle_stats.cell_id = :cell_id
    window cell_order as (order by cycle_stats.cycle_index rows between unbounded preceding and current row)
)

update blc.cycle_stats as cycle_stats
set
    throughput_ah = running.throughput_ah,
    throughput_wh = running.throughput_wh,
    equivalent_full_cycles = running.discharged_ah / nullif((select basis.capacity_ah from basis), 0)
from running
where
    cycle_stats.cell_id = :cell_id
    and cycle_stats.cycle_index = running.cycle_index
    and (cycle_stats.throughput_ah, cycle_stats.throughput_wh, cycle_stats.equivalent_full_cycles)
    is distinct from (
        running.throughput_ah,
        running.throughput_wh,
        running.discharged_ah / nullif((select basis.capacity_ah from basis), 0)
    )
