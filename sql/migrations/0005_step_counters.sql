-- Per-step reported counters (BDF step_* reset scope, issue 4): Neware, batterydata.energy.gov and BDF files
-- report capacity and energy that restart at every step. Kept beside the test-wide and per-cycle counters
-- for the reported-vs-recalculated comparison (processors/cycle_stats.py sums them over a cycle's steps).
alter table blc.timeseries
    add column step_charging_capacity_ah     double precision,
    add column step_discharging_capacity_ah  double precision,
    add column step_charging_energy_wh       double precision,
    add column step_discharging_energy_wh    double precision;

-- New view columns go last: "create or replace view" may only append.
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
    timeseries.step_discharging_energy_wh
from blc.timeseries as timeseries
inner join blc.source_file as source_file on source_file.file_id = timeseries.file_id;
