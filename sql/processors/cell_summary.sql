-- One summary row per cell (DESIGN §6): reference capacity, cycles, retention of the last complete cycle,
-- fade per 100 cycles from a least-squares line over the last 100 complete cycles, and the first cycle
-- whose retention falls below 80 % and 70 %. Binds: :cell_id, :formation_cycles, :processor_version.
with fade as (
    select
        cf.cell_id,
        cf.cycle_index,
        cf.discharge_capacity_ah,
        cf.retention,
        cf.complete
    from blc.capacity_fade as cf
    where cf.cell_id = :cell_id
),

reference as (
    select
        percentile_cont(0.5) within group (order by f.discharge_capacity_ah) as capacity_ah
    from (
        select f.discharge_capacity_ah
        from fade as f
        where f.complete and f.discharge_capacity_ah > 0 and f.cycle_index > :formation_cycles
        order by f.cycle_index
        limit 3
    ) as f
),

complete_cycles as (
    select f.*
    from fade as f
    where f.complete and f.discharge_capacity_ah > 0
),

recent as (
    select cc.*
    from complete_cycles as cc
    order by cc.cycle_index desc
    limit 100
),

thresholds as (
    select
        min(cc.cycle_index) filter (where cc.retention < 0.8) as cycles_to_80,
        min(cc.cycle_index) filter (where cc.retention < 0.7) as cycles_to_70
    from complete_cycles as cc
    where cc.cycle_index > :formation_cycles
),

ends as (
    select
        (select cc.discharge_capacity_ah from complete_cycles as cc order by cc.cycle_index limit 1)
            as first_discharge_capacity_ah,
        (select cc.discharge_capacity_ah from complete_cycles as cc order by cc.cycle_index desc limit 1)
            as last_discharge_capacity_ah,
        (select cc.retention from complete_cycles as cc order by cc.cycle_index desc limit 1)
            as last_retention
),

counts as (
    select
        count(*) as cycles,
        count(*) filter (where f.complete) as complete_cycles
    from fade as f
)

insert into blc.cell_summary (
    cell_id, reference_capacity_ah, nominal_capacity_ah, cycles, complete_cycles,
    first_discharge_capacity_ah, last_discharge_capacity_ah, last_retention,
    fade_per_100_cycles, cycles_to_80, cycles_to_70, processor_version
)
select
    c.cell_id,
    r.capacity_ah as reference_capacity_ah,
    c.nominal_capacity_ah,
    n.cycles,
    n.complete_cycles,
    e.first_discharge_capacity_ah,
    e.last_discharge_capacity_ah,
    e.last_retention,
    -- least-squares slope of retention per cycle, as the fraction of the reference lost per 100 cycles
    -- (0.02 = 2 % per 100 cycles; positive = fading)
    -100 * (select regr_slope(rc.retention, rc.cycle_index) from recent as rc) as fade_per_100_cycles,
    t.cycles_to_80,
    t.cycles_to_70,
    :processor_version as processor_version
from blc.cell as c
cross join reference as r
cross join counts as n
cross join ends as e
cross join thresholds as t
where c.cell_id = :cell_id
