-- Compatibility views (DESIGN §4): Battery Archive's table and column names over our tables, so the
-- Battery Archive dashboards' SQL runs unchanged against a BLC database. Units as theirs (A, V, Ah, Wh, s);
-- one deliberate value difference is noted per column. Read-only: nothing writes here.
create schema if not exists batteryarchive;

-- Their cell list. "ah" is the nominal capacity; "status" is 'completed' once the cell is processed (their
-- publication gate); test = 'cycle' (abuse tests are not ingested here).
create view batteryarchive.cell_metadata as
select
    cell.cell_id,
    cell.anode,
    cell.cathode,
    cell.source,
    cell.nominal_capacity_ah as ah,
    cell.form_factor,
    'cycle'::text as test,
    cell.tester,
    case when summary.cell_id is not null then 'completed' else 'loading' end as status,
    cell.metadata ->> 'weight' as weight,
    cell.metadata ->> 'dimensions' as dimensions
from blc.cell as cell
left join blc.cell_summary as summary on summary.cell_id = cell.cell_id;

-- Their test conditions, from the cell's metadata (sidecar or cells.csv keys of the same names).
create view batteryarchive.cycle_metadata as
select
    cell.cell_id,
    coalesce(cell.temperature_celsius, (cell.metadata ->> 'temperature')::double precision) as temperature,
    (cell.metadata ->> 'soc_max')::double precision as soc_max,
    (cell.metadata ->> 'soc_min')::double precision as soc_min,
    (cell.metadata ->> 'v_max')::double precision as v_max,
    (cell.metadata ->> 'v_min')::double precision as v_min,
    (cell.metadata ->> 'crate_c')::double precision as crate_c,
    (cell.metadata ->> 'crate_d')::double precision as crate_d,
    null::integer as step
from blc.cell as cell;

-- Their per-cycle statistics. v_c_mean / v_d_mean are plain sample means as theirs were (our
-- capacity-weighted means stay in blc.cycle_stats); ah_eff / e_eff are 0 when nothing was charged, as theirs.
create view batteryarchive.cycle_stats as
select
    cycle_stats.cell_id,
    cycle_stats.cycle_index,
    cycle_stats.voltage_max_v as v_max,
    cycle_stats.voltage_min_v as v_min,
    cycle_stats.charge_capacity_ah as ah_c,
    cycle_stats.discharge_capacity_ah as ah_d,
    cycle_stats.charge_energy_wh as e_c,
    cycle_stats.discharge_energy_wh as e_d,
    cycle_stats.current_max_a as i_max,
    cycle_stats.current_min_a as i_min,
    cycle_stats.voltage_charge_sample_mean_v as v_c_mean,
    cycle_stats.voltage_discharge_sample_mean_v as v_d_mean,
    coalesce(cycle_stats.energy_efficiency, 0) as e_eff,
    coalesce(cycle_stats.coulombic_efficiency, 0) as ah_eff,
    cycle_stats.test_time_end_second as test_time
from blc.cycle_stats as cycle_stats;

-- Their time series: the stitched samples with capacity and energy integrated within each cycle (trapezoid,
-- current split by sign, as their importer did), the time since the cycle's first sample, and the clock as
-- a UTC timestamp. Filter by cell_id: the window is per cell and cycle, so the filter reaches the scan.
create view batteryarchive.cycle_timeseries as
with

samples as (
    select
        series.cell_id,
        series.cycle_index,
        series.file_id,
        series.record_index,
        series.test_time_second,
        series.unix_time_second,
        series.current_ampere,
        series.voltage_volt,
        series.ambient_temperature_celsius,
        coalesce(series.surface_temperature_celsius, series.temperature_t1_celsius) as cell_temperature,
        series.test_time_second - lag(series.test_time_second) over cycle_order as dt_second,
        lag(series.current_ampere) over cycle_order as previous_current,
        lag(series.voltage_volt * series.current_ampere) over cycle_order as previous_power,
        first_value(series.test_time_second) over cycle_order as cycle_start_second
    from blc.cell_timeseries as series
    window cycle_order as (
        partition by series.cell_id, series.cycle_index
        order by series.test_time_second, series.file_id, series.record_index
    )
),

increments as (
    select
        samples.*,
        coalesce(samples.dt_second * (greatest(samples.current_ampere, 0)
            + greatest(samples.previous_current, 0)) / 2 / 3600, 0) as ah_c_step,
        coalesce(samples.dt_second * (greatest(-samples.current_ampere, 0)
            + greatest(-samples.previous_current, 0)) / 2 / 3600, 0) as ah_d_step,
        coalesce(samples.dt_second * (greatest(samples.voltage_volt * samples.current_ampere, 0)
            + greatest(samples.previous_power, 0)) / 2 / 3600, 0) as e_c_step,
        coalesce(samples.dt_second * (greatest(-samples.voltage_volt * samples.current_ampere, 0)
            + greatest(-samples.previous_power, 0)) / 2 / 3600, 0) as e_d_step
    from samples
)

select
    increments.cell_id,
    increments.cycle_index,
    increments.test_time_second as test_time,
    increments.current_ampere as i,
    increments.voltage_volt as v,
    sum(increments.ah_c_step) over running as ah_c,
    sum(increments.ah_d_step) over running as ah_d,
    sum(increments.e_c_step) over running as e_c,
    sum(increments.e_d_step) over running as e_d,
    increments.ambient_temperature_celsius as env_temperature,
    increments.cell_temperature,
    increments.test_time_second - increments.cycle_start_second as cycle_time,
    to_timestamp(increments.unix_time_second) at time zone 'UTC' as date_time
from increments
window running as (
    partition by increments.cell_id, increments.cycle_index
    order by increments.test_time_second, increments.file_id, increments.record_index
    rows between unbounded preceding and current row
);
