-- Capacity fade of one cell (DESIGN §6): retention of every cycle against the cell's reference capacity,
-- the median discharge capacity of the first 3 complete cycles after formation.
-- Binds: :cell_id, :formation_cycles. Replaces the cell's rows (the caller deletes them first).
with cycles as (
    select
        cs.cell_id,
        cs.cycle_index,
        cs.discharge_capacity_ah,
        cs.discharge_energy_wh,
        cs.coulombic_efficiency,
        cs.complete
    from blc.cycle_stats as cs
    where cs.cell_id = :cell_id
),

reference_cycles as (
    select c.discharge_capacity_ah, c.discharge_energy_wh
    from cycles as c
    where c.complete
        and c.discharge_capacity_ah > 0
        and c.cycle_index > :formation_cycles
    order by c.cycle_index
    limit 3
),

reference as (
    select
        percentile_cont(0.5) within group (order by rc.discharge_capacity_ah) as capacity_ah,
        percentile_cont(0.5) within group (order by rc.discharge_energy_wh) as energy_wh
    from reference_cycles as rc
)

insert into blc.capacity_fade (
    cell_id, cycle_index, discharge_capacity_ah, discharge_energy_wh,
    retention, energy_retention, coulombic_efficiency, complete
)
select
    c.cell_id,
    c.cycle_index,
    c.discharge_capacity_ah,
    c.discharge_energy_wh,
    c.discharge_capacity_ah / nullif(r.capacity_ah, 0) as retention,
    c.discharge_energy_wh / nullif(r.energy_wh, 0) as energy_retention,
    c.coulombic_efficiency,
    c.complete
from cycles as c
cross join reference as r
