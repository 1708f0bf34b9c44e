-- What the fade fits read (blc.process): retention and coulombic inefficiency 1 − CE of a cell's complete
-- ageing cycles, with exactly the arithmetic of sql/processors/capacity_fade.sql.
-- Binds: :cell_id, :formation_cycles.
with

convention as (
    select blc.anode_half_cell(:cell_id) as anode
)

select
    cycle_stats.cycle_index,
    case when convention.anode then cycle_stats.charge_capacity_ah
        else cycle_stats.discharge_capacity_ah end / nullif(reference.capacity_ah, 0) as retention,
    1 - cycle_stats.coulombic_efficiency as coulombic_inefficiency
from blc.cycle_stats as cycle_stats
cross join convention
cross join blc.reference_capacity(:cell_id, :formation_cycles) as reference
where cycle_stats.cell_id = :cell_id and cycle_stats.complete and cycle_stats.cycle_class = 'ageing'
order by cycle_stats.cycle_index
