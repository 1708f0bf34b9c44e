-- One summary row per cell (docs/design.md §6), from its ageing series (capacity_fade.fade_series): the
-- reference capacity and energy, cycles, retention of the last ageing cycle, fade per 100 cycles from a
-- least-squares line over the last 100 ageing cycles, the first ageing cycle whose retention falls below
-- 80 % and 70 %, and, while a threshold is not reached yet, the first whole cycle where that line is below
-- it (projected_cycles_to_*: a projection, never a measurement; only from a series that is actually
-- fading: the line falls, rests on at least 10 cycles, and its slope is at least 3 standard errors below
-- zero). The reference-check series (a diagnostic protocol's slow capacity checks) gets its own count,
-- reference, last retention and first check below 80 %. Throughput and equivalent full cycles of the last
-- cycle, the median coulombic inefficiency of the recent ageing cycles (none when it is negative: CE above
-- 1 on the median cycle says the pairing of charge and discharge is not the cell's, not that it gains
-- charge), whether the cell is a half-cell and on what basis, and the knee onset (fitted before this step
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
        capacity_fade.complete,
        capacity_fade.fade_series,
        capacity_fade.capacity_ah
    from blc.capacity_fade as capacity_fade
    where capacity_fade.cell_id = :cell_id
),

complete_cycles as (
    select fade.*
    from fade
    where fade.fade_series = 'ageing' and fade.capacity_ah > 0
),

reference_checks as (
    select
        count(*) as checks,
        min(fade.cycle_index) filter (where fade.retention < 0.8) as cycles_to_80,
        (array_agg(fade.retention order by fade.cycle_index desc))[1] as last_retention
    from fade
    where fade.fade_series = 'reference' and fade.capacity_ah > 0
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
        -- standard error of the slope: sqrt(residual variance / Sxx)
        sqrt(
            greatest(regr_syy(recent.retention, recent.cycle_index)
                - regr_sxy(recent.retention, recent.cycle_index) ^ 2
                / nullif(regr_sxx(recent.retention, recent.cycle_index), 0), 0)
            / nullif(count(*) - 2, 0)
            / nullif(regr_sxx(recent.retention, recent.cycle_index), 0)
        ) as slope_error,
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
        count(*) filter (where fade.complete) as complete_cycles,
        count(*) filter (where fade.fade_series = 'ageing') as ageing_cycles
    from fade
),

fading as (
    select line.slope < 0 and line.n_cycles >= 10 and line.slope < -3 * line.slope_error as projectable
    from line
),

check_reference as (
    select fade_reference.capacity_ah
    from blc.fade_reference(:cell_id, :formation_cycles) as fade_reference
    where fade_reference.fade_series = 'reference'
)

insert into blc.cell_summary (
    cell_id, reference_capacity_ah, reference_energy_wh, nominal_capacity_ah, capacity_basis, cycles,
    complete_cycles, first_discharge_capacity_ah, last_discharge_capacity_ah, last_retention,
    last_energy_retention, fade_per_100_cycles, cycles_to_80, cycles_to_70, projected_cycles_to_80,
    projected_cycles_to_70, throughput_ah, equivalent_full_cycles, coulombic_inefficiency_recent,
    knee_onset_cycle, knee_onset_retention, ageing_cycles, reference_check_cycles,
    reference_check_capacity_ah, reference_check_last_retention, reference_check_cycles_to_80, half_cell, half_cell_basis,
    processor_version
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
    case when thresholds.cycles_to_80 is null and fading.projectable
        then greatest(floor((0.8 - line.intercept) / line.slope)::integer + 1, line.last_cycle + 1)
    end as projected_cycles_to_80,
    case when thresholds.cycles_to_70 is null and fading.projectable
        then greatest(floor((0.7 - line.intercept) / line.slope)::integer + 1, line.last_cycle + 1)
    end as projected_cycles_to_70,
    (select totals.throughput_ah from totals) as throughput_ah,
    (select totals.equivalent_full_cycles from totals) as equivalent_full_cycles,
    case when line.coulombic_inefficiency >= 0 then line.coulombic_inefficiency end
        as coulombic_inefficiency_recent,
    fade_knee.knee_onset_cycle,
    fade_knee.knee_onset_retention,
    counts.ageing_cycles,
    reference_checks.checks as reference_check_cycles,
    (select check_reference.capacity_ah from check_reference) as reference_check_capacity_ah,
    reference_checks.last_retention as reference_check_last_retention,
    reference_checks.cycles_to_80 as reference_check_cycles_to_80,
    cell.half_cell,
    case when cell.half_cell is not null then coalesce(cell.half_cell_basis, 'metadata') end
        as half_cell_basis,
    :processor_version as processor_version
from blc.cell as cell
cross join blc.reference_capacity(:cell_id, :formation_cycles) as reference
cross join fade_knee
cross join counts
cross join ends
cross join thresholds
cross join line
cross join fading
cross join reference_checks
where cell.cell_id = :cell_id
