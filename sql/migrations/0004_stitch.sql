-- Stitching (issue 4): several files of one cell make one continuous test. Each file keeps its own rows as
-- read (its cycles numbered from 1, its own test time); the processor orders a cell's files and stores,
-- per file, the offsets that continue the previous one. Re-ingesting any file re-stitches the cell:
-- offsets are recomputed at every processing, no row is rewritten. blc.cell_timeseries applies them.
alter table blc.source_file
    add column clock_start_unix_second double precision,  -- unix time − test time of the first clocked row
    add column test_time_first_second  double precision,
    add column test_time_last_second   double precision,
    add column stitch_position         integer,
    add column cycle_offset            integer,
    add column test_time_offset_second double precision;

create view blc.cell_timeseries as
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
    timeseries.temperature_t1_celsius
from blc.timeseries as timeseries
inner join blc.source_file as source_file on source_file.file_id = timeseries.file_id;
