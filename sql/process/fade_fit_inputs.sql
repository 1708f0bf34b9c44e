-- What the fade fits read (blc.process): retention and coulombic inefficiency 1 − CE of a cell's complete
-- ageing cycles, with exactly the arithmetic of sql/processors/capacity_fade.sql.
-- Binds: :cell_id, :formation_cycles.
with

convention as materialized (
    select blc.anode_half_cell(:cell_id) as anode
),

-- materialized: computed once, not once per cycle (the planner would inline the function into the join)
reference as materialized (
    select reference_capacity.capacity_ah
    from blc.reference_capacity(:cell_id, :formation_cycles) as reference_capacity
)

select
    cycle_stats.cycle_index,
    case when convention.anode then cycle_stats.charge_capacity_ah
        else cycle_stats.discharge_capacity_ah end / nullif(reference.capacity_ah, 0) as retention,
    1 - cycle_stats.coulombic_efficiency as coulombic_inefficiency
from blc.cycle_stats as cycle_stats
cross join convention
cross join reference
where cycle_stats.cell_id = :cell_id and cycle_stats.complete and cycle_stats.cycle_class = 'ageing'
order by cycle_stats.cycle_index
