-- Capacity fade of one cell (docs/design.md §6): retention of every cycle against the cell's reference capacity
-- (blc.reference_capacity: median discharge capacity of the first 3 complete cycles after formation),
-- energy retention likewise, and the coulombic inefficiency 1 − CE with its smoothed trend (a moving median
-- over complete cycles, computed before this step by blc.process into the temporary table fade_trend).
-- Binds: :cell_id, :formation_cycles. Replaces the cell's rows (the caller deletes them first).
with

cycles as (
    select
        cycle_stats.cell_id,
        cycle_stats.cycle_index,
        cycle_stats.discharge_capacity_ah,
        cycle_stats.discharge_energy_wh,
        cycle_stats.coulombic_efficiency,
        cycle_stats.equivalent_full_cycles,
        cycle_stats.complete
    from blc.cycle_stats as cycle_stats
    where cycle_stats.cell_id = :cell_id
)

insert into blc.capacity_fade (
    cell_id, cycle_index, discharge_capacity_ah, discharge_energy_wh, retention, energy_retention,
    coulombic_efficiency, coulombic_inefficiency, coulombic_inefficiency_smoothed, equivalent_full_cycles,
    complete
)
select
    cycles.cell_id,
    cycles.cycle_index,
    cycles.discharge_capacity_ah,
    cycles.discharge_energy_wh,
    cycles.discharge_capacity_ah / nullif(reference.capacity_ah, 0) as retention,
    cycles.discharge_energy_wh / nullif(reference.energy_wh, 0) as energy_retention,
    cycles.coulombic_efficiency,
    1 - cycles.coulombic_efficiency as coulombic_inefficiency,
    fade_trend.coulombic_inefficiency_smoothed,
    cycles.equivalent_full_cycles,
    cycles.complete
from cycles
cross join blc.reference_capacity(:cell_id, :formation_cycles) as reference
left join fade_trend on fade_trend.cycle_index = cycles.cycle_index
