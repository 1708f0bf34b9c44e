-- Capacity fade of one cell (docs/design.md §6): each cycle's class (processors/classify.py) and, for the
-- cycles of a fade series (complete 'ageing' cycles: the cell's fade curve; complete 'reference' checks: a
-- curve of their own), retention against that series' reference (blc.fade_reference: median capacity of
-- its first 3 complete cycles after formation), energy retention likewise, and the coulombic inefficiency
-- 1 − CE with its smoothed trend (a moving median over the ageing cycles, computed before this step by
-- blc.process into the temporary table fade_trend). An anode half-cell (blc.anode_half_cell) follows its
-- delithiation capacity, which our sign convention calls charge; its CE stays in the full-cell convention
-- (docs/design.md §11), which for it reads as the inverse of the anode's.
-- Binds: :cell_id, :formation_cycles. Replaces the cell's rows (the caller deletes them first).
with

convention as materialized (
    select blc.anode_half_cell(:cell_id) as anode
),

cycles as (
    select
        cycle_stats.cell_id,
        cycle_stats.cycle_index,
        cycle_stats.discharge_capacity_ah,
        cycle_stats.discharge_energy_wh,
        case when convention.anode then cycle_stats.charge_capacity_ah
            else cycle_stats.discharge_capacity_ah end as capacity_ah,
        case when convention.anode then cycle_stats.charge_energy_wh
            else cycle_stats.discharge_energy_wh end as energy_wh,
        cycle_stats.coulombic_efficiency,
        cycle_stats.equivalent_full_cycles,
        cycle_stats.complete,
        cycle_stats.cycle_class,
        case when cycle_stats.complete and cycle_stats.cycle_class in ('ageing', 'reference')
            then cycle_stats.cycle_class end as fade_series
    from blc.cycle_stats as cycle_stats
    cross join convention
    where cycle_stats.cell_id = :cell_id
),

series_reference as materialized (
    select fade_reference.fade_series, fade_reference.capacity_ah, fade_reference.energy_wh
    from blc.fade_reference(:cell_id, :formation_cycles) as fade_reference
)

insert into blc.capacity_fade (
    cell_id, cycle_index, discharge_capacity_ah, discharge_energy_wh, retention, energy_retention,
    coulombic_efficiency, coulombic_inefficiency, coulombic_inefficiency_smoothed, equivalent_full_cycles,
    complete, cycle_class, fade_series, capacity_ah
)
select
    cycles.cell_id,
    cycles.cycle_index,
    cycles.discharge_capacity_ah,
    cycles.discharge_energy_wh,
    cycles.capacity_ah / nullif(series_reference.capacity_ah, 0) as retention,
    cycles.energy_wh / nullif(series_reference.energy_wh, 0) as energy_retention,
    cycles.coulombic_efficiency,
    1 - cycles.coulombic_efficiency as coulombic_inefficiency,
    fade_trend.coulombic_inefficiency_smoothed,
    cycles.equivalent_full_cycles,
    cycles.complete,
    cycles.cycle_class,
    cycles.fade_series,
    cycles.capacity_ah
from cycles
left join series_reference on series_reference.fade_series = cycles.fade_series
left join fade_trend on fade_trend.cycle_index = cycles.cycle_index
