-- One summary row per cell (docs/design.md §6): reference capacity and energy, cycles, retention of the last
-- complete cycle, fade per 100 cycles from a least-squares line over the last 100 complete cycles, the first
-- cycle whose retention falls below 80 % and 70 %, and, while a threshold is not reached yet, the first
-- whole cycle where that line is below it (projected_cycles_to_*: a projection, never a measurement; only
-- when the line falls and rests on at least 10 cycles). Throughput and equivalent full cycles of the last
-- cycle, the median coulombic inefficiency of the recent cycles, and the knee onset (fitted before this step
-- by blc.process with processors/fade.py, in the temporary table fade_knee).
-- Binds: :cell_id, :formation_cycles, :processor_version.
with

fade as (
    select
        capacity_fade.cycle_index,
        capacity_fade.discharge_capacity_ah,
        capacity_fade.retention,
        capacity_fade.energy_retention,
        capacity_fade.coulombic_inefficiency,
        capacity_fade.complete
    from blc.capacity_fade as capacity_fade
    where capacity_fade.cell_id = :cell_id
),

complete_cycles as (
    select fade.*
    from fade
    where fade.complete and fade.discharge_capacity_ah > 0
),

recent as (
    select complete_cycles.*
    from complete_cycles
    order by complete_cycles.cycle_index desc
    limit 100
),

line as (
    select
        regr_slope(recent.retention, recent.cycle_index) as slope,
        regr_intercept(recent.retention, recent.cycle_index) as intercept,
        count(*) as n_cycles,
        max(recent.cycle_index) as last_cycle,
        percentile_cont(0.5) within group (order by recent.coulombic_inefficiency) as coulombic_inefficiency
    from recent
),

thresholds as (
    select
        min(complete_cycles.cycle_index) filter (where complete_cycles.retention < 0.8) as cycles_to_80,
        min(complete_cycles.cycle_index) filter (where complete_cycles.retention < 0.7) as cycles_to_70
    from complete_cycles
    where complete_cycles.cycle_index > :formation_cycles
),

ends as (
    select
        (select first_cycle.discharge_capacity_ah from complete_cycles as first_cycle
            order by first_cycle.cycle_index limit 1) as first_discharge_capacity_ah,
        (select last_cycle.discharge_capacity_ah from complete_cycles as last_cycle
            order by last_cycle.cycle_index desc limit 1) as last_discharge_capacity_ah,
        (select last_cycle.retention from complete_cycles as last_cycle
            order by last_cycle.cycle_index desc limit 1) as last_retention,
        (select last_cycle.energy_retention from complete_cycles as last_cycle
            order by last_cycle.cycle_index desc limit 1) as last_energy_retention
),

totals as (
    select cycle_stats.throughput_ah, cycle_stats.equivalent_full_cycles
    from blc.cycle_stats as cycle_stats
    where cycle_stats.cell_id = :cell_id
    order by cycle_stats.cycle_index desc
    limit 1
),

counts as (
    select
        count(*) as cycles,
        count(*) filter (where fade.complete) as complete_cycles
    from fade
)

insert into blc.cell_summary (
    cell_id, reference_capacity_ah, reference_energy_wh, nominal_capacity_ah, capacity_basis, cycles,
    complete_cycles, first_discharge_capacity_ah, last_discharge_capacity_ah, last_retention,
    last_energy_retention, fade_per_100_cycles, cycles_to_80, cycles_to_70, projected_cycles_to_80,
    projected_cycles_to_70, throughput_ah, equivalent_full_cycles, coulombic_inefficiency_recent,
    knee_onset_cycle, knee_onset_retention, processor_version
)
select
    cell.cell_id,
    reference.capacity_ah as reference_capacity_ah,
    reference.energy_wh as reference_energy_wh,
    cell.nominal_capacity_ah,
    case when cell.nominal_capacity_ah is not null then 'nominal' else 'reference' end as capacity_basis,
    counts.cycles,
    counts.complete_cycles,
    ends.first_discharge_capacity_ah,
    ends.last_discharge_capacity_ah,
    ends.last_retention,
    ends.last_energy_retention,
    -- least-squares slope of retention per cycle, as the fraction of the reference lost per 100 cycles
    -- (0.02 = 2 % per 100 cycles; positive = fading)
    -100 * line.slope as fade_per_100_cycles,
    thresholds.cycles_to_80,
    thresholds.cycles_to_70,
    case when thresholds.cycles_to_80 is null and line.slope < 0 and line.n_cycles >= 10
        then greatest(floor((0.8 - line.intercept) / line.slope)::integer + 1, line.last_cycle + 1)
    end as projected_cycles_to_80,
    case when thresholds.cycles_to_70 is null and line.slope < 0 and line.n_cycles >= 10
        then greatest(floor((0.7 - line.intercept) / line.slope)::integer + 1, line.last_cycle + 1)
    end as projected_cycles_to_70,
    (select totals.throughput_ah from totals) as throughput_ah,
    (select totals.equivalent_full_cycles from totals) as equivalent_full_cycles,
    line.coulombic_inefficiency as coulombic_inefficiency_recent,
    fade_knee.knee_onset_cycle,
    fade_knee.knee_onset_retention,
    :processor_version as processor_version
from blc.cell as cell
cross join blc.reference_capacity(:cell_id, :formation_cycles) as reference
cross join fade_knee
cross join counts
cross join ends
cross join thresholds
cross join line
where cell.cell_id = :cell_id
