-- What the cycle_stats suite (expectations/cycle_stats.json) checks of one cell's cycles, in cycle order.
-- Binds: :cell_id, :processor_version.
select
    cycle_stats.cycle_index,
    cycle_stats.charge_capacity_ah,
    cycle_stats.discharge_capacity_ah,
    cycle_stats.processor_version = :processor_version as processor_version_current,
    case
        when
            cycle_stats.complete
            and not coalesce(cell.half_cell, false)
            and cycle_stats.cycle_class not in ('hppc', 'partial', 'rest')  -- pulse trains are not balanced
            then cycle_stats.coulombic_efficiency
    end as coulombic_efficiency_full_cell,
    greatest(cycle_stats.charge_capacity_ah, cycle_stats.discharge_capacity_ah)
    / nullif(cell.nominal_capacity_ah, 0) as capacity_to_nominal,
    cycle_stats.gap_second
from blc.cycle_stats as cycle_stats
inner join blc.cell as cell on cell.cell_id = cycle_stats.cell_id
where cycle_stats.cell_id = :cell_id
order by cycle_stats.cycle_index
