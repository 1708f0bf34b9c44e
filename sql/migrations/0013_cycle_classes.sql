-- Issue 13: numbers a battery scientist can trust on real protocols (docs/design.md §5, §6; docs/adr/0009).

-- The instrument's own word that it stopped the test or a step before its end condition (connectors).
alter table blc.timeseries add column instrument_stop smallint;

-- What each cycle looked like, per file (processors/cycle_stats.py) and per cell: the currents and
-- durations of its charge and discharge, where each ended, how many charge/discharge segments it held, the
-- time left out of the integrals as gaps in the samples, and why it is not complete (flags).
alter table blc.file_cycle_stats
    add column charge_current_median_a      double precision,
    add column discharge_current_median_a   double precision,
    add column charge_duration_second       double precision,
    add column discharge_duration_second    double precision,
    add column charge_end_voltage_v         double precision,
    add column discharge_end_voltage_v      double precision,
    add column segments                     integer,
    add column gap_second                   double precision,
    add column flags                        text;

alter table blc.cycle_stats
    add column charge_current_median_a      double precision,
    add column discharge_current_median_a   double precision,
    add column charge_duration_second       double precision,
    add column discharge_duration_second    double precision,
    add column charge_end_voltage_v         double precision,
    add column discharge_end_voltage_v      double precision,
    add column segments                     integer,
    add column gap_second                   double precision,
    add column flags                        text,
    add column cycle_class                  text check (
        cycle_class in ('formation', 'reference', 'hppc', 'rate', 'ageing', 'rest', 'partial')
    );

-- Fade is computed within one series of like cycles: 'ageing' (the cell's fade curve) and 'reference'
-- (the slow capacity checks of a diagnostic protocol, a fade curve of their own). capacity_ah is the
-- capacity the fade follows: the discharge, or for an anode half-cell the delithiation (charge).
alter table blc.capacity_fade
    add column cycle_class  text,
    add column fade_series  text check (fade_series in ('ageing', 'reference')),
    add column capacity_ah  double precision;

alter table blc.cell_summary
    add column ageing_cycles                     integer,
    add column reference_check_cycles            integer,
    add column reference_check_capacity_ah       double precision,
    add column reference_check_last_retention    double precision,
    add column reference_check_cycles_to_80      integer,
    add column half_cell                         boolean,
    add column half_cell_basis                   text;

-- Where blc.cell.half_cell came from: 'metadata' (a sidecar said so) or 'voltage window' (inferred).
alter table blc.cell add column half_cell_basis text;

-- An anode half-cell (a half-cell whose working electrode lives below 2 V against lithium: graphite,
-- silicon, hard carbon, LTO): its reversible capacity is the delithiation, which our sign convention calls
-- charge. Judged from the median upper voltage of its complete cycles.
create function blc.anode_half_cell(cell text)
returns boolean
language sql stable as $$
    select coalesce(
        bool_and(c.half_cell) and (
            select percentile_cont(0.5) within group (order by cycle_stats.voltage_max_v)
            from blc.cycle_stats as cycle_stats
            where cycle_stats.cell_id = cell and cycle_stats.complete
        ) <= 2.0,
        false
    )
    from blc.cell as c
    where c.cell_id = cell
$$;

-- The reference of each fade series: the median capacity (and energy) of its first 3 complete cycles after
-- formation, in the cell's convention (blc.anode_half_cell).
create function blc.fade_reference(cell text, formation_cycles integer)
returns table (fade_series text, capacity_ah double precision, energy_wh double precision)
language sql stable as $$
    with

    convention as materialized (
        select blc.anode_half_cell(cell) as anode
    ),

    ranked as (
        select
            cycle_stats.cycle_class as fade_series,
            case when convention.anode then cycle_stats.charge_capacity_ah
                else cycle_stats.discharge_capacity_ah end as capacity_ah,
            case when convention.anode then cycle_stats.charge_energy_wh
                else cycle_stats.discharge_energy_wh end as energy_wh,
            row_number() over (partition by cycle_stats.cycle_class order by cycle_stats.cycle_index)
                as position
        from blc.cycle_stats as cycle_stats
        cross join convention
        where
            cycle_stats.cell_id = cell
            and cycle_stats.complete
            and cycle_stats.cycle_class in ('ageing', 'reference')
            and cycle_stats.cycle_index > formation_cycles
            and case when convention.anode then cycle_stats.charge_capacity_ah
                else cycle_stats.discharge_capacity_ah end > 0
    )

    select
        ranked.fade_series,
        percentile_cont(0.5) within group (order by ranked.capacity_ah),
        percentile_cont(0.5) within group (order by ranked.energy_wh)
    from ranked
    where ranked.position <= 3
    group by ranked.fade_series
$$;

-- The cell's reference capacity is that of its ageing series (one definition, still used by
-- cycle_cumulative and the fade steps; a cell without ageing cycles has none).
create or replace function blc.reference_capacity(cell text, formation_cycles integer)
returns table (capacity_ah double precision, energy_wh double precision)
language sql stable as $$
    select reference.capacity_ah, reference.energy_wh
    from (select 1) as one
    left join blc.fade_reference(cell, formation_cycles) as reference on reference.fade_series = 'ageing'
$$;

-- The stitched time series carries the stop records too (new view columns go last).
create or replace view blc.cell_timeseries as
select
    timeseries.cell_id,
    timeseries.file_id,
    source_file.stitch_position,
    timeseries.record_index,
    timeseries.test_time_second + coalesce(source_file.test_time_offset_second, 0) as test_time_second,
    timeseries.unix_time_second,
    timeseries.cycle_index + coalesce(source_file.cycle_offset, 0) as cycle_index,
    timeseries.cycle_count,
    timeseries.step_count,
    timeseries.step_id,
    timeseries.step_time_second,
    timeseries.current_ampere,
    timeseries.voltage_volt,
    timeseries.power_watt,
    timeseries.charging_capacity_ah,
    timeseries.discharging_capacity_ah,
    timeseries.charging_energy_wh,
    timeseries.discharging_energy_wh,
    timeseries.cycle_charging_capacity_ah,
    timeseries.cycle_discharging_capacity_ah,
    timeseries.cycle_charging_energy_wh,
    timeseries.cycle_discharging_energy_wh,
    timeseries.internal_resistance_ohm,
    timeseries.ambient_temperature_celsius,
    timeseries.surface_temperature_celsius,
    timeseries.temperature_t1_celsius,
    timeseries.step_charging_capacity_ah,
    timeseries.step_discharging_capacity_ah,
    timeseries.step_charging_energy_wh,
    timeseries.step_discharging_energy_wh,
    timeseries.instrument_stop
from blc.timeseries as timeseries
inner join blc.source_file as source_file on source_file.file_id = timeseries.file_id;
