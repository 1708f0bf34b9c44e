-- A cell's cycle statistics, step 1 of 2: its files' per-cycle statistics (computed while each file was
-- streamed in, or recomputed from its stored samples by the pipeline), shifted by the file's stitch offsets
-- (cycle numbers and test time continue the previous file), into the temporary table assembled_cycle_stats.
-- A cycle split between two files (a resumed test) appears there twice; the pipeline merges it from both
-- files' samples before step 2 (cycle_stats_apply.sql). Binds: :cell_id, :processor_version.

drop table if exists pg_temp.assembled_cycle_stats;

create temporary table assembled_cycle_stats on commit drop as
with

cell_files as (
    select
        source_file.file_id,
        coalesce(source_file.cycle_offset, 0) as cycle_offset,
        coalesce(source_file.test_time_offset_second, 0) as time_offset
    from blc.source_file as source_file
    where
        source_file.cell_id = :cell_id
        and source_file.status in ('loaded', 'processed')
),

file_stats as (
    select
        file_cycle_stats.*,
        cell_files.cycle_offset,
        cell_files.time_offset
    from blc.file_cycle_stats as file_cycle_stats
    inner join cell_files on cell_files.file_id = file_cycle_stats.file_id
    where file_cycle_stats.processor_version = :processor_version
),

assembled as (
    select
        :cell_id as cell_id,
        file_stats.cycle_index + file_stats.cycle_offset as cycle_index,
        file_stats.charge_capacity_ah,
        file_stats.discharge_capacity_ah,
        file_stats.charge_energy_wh,
        file_stats.discharge_energy_wh,
        file_stats.coulombic_efficiency,
        file_stats.energy_efficiency,
        file_stats.voltage_max_v,
        file_stats.voltage_min_v,
        file_stats.current_max_a,
        file_stats.current_min_a,
        file_stats.voltage_charge_mean_v,
        file_stats.voltage_discharge_mean_v,
        file_stats.voltage_charge_sample_mean_v,
        file_stats.voltage_discharge_sample_mean_v,
        file_stats.test_time_start_second + file_stats.time_offset as test_time_start_second,
        file_stats.test_time_end_second + file_stats.time_offset as test_time_end_second,
        file_stats.duration_second,
        file_stats.n_points,
        file_stats.reported_charge_capacity_ah,
        file_stats.reported_discharge_capacity_ah,
        file_stats.reported_charge_energy_wh,
        file_stats.reported_discharge_energy_wh,
        file_stats.cc_capacity_ah,
        file_stats.cv_capacity_ah,
        file_stats.cv_time_second,
        file_stats.temperature_min_celsius,
        file_stats.temperature_mean_celsius,
        file_stats.temperature_max_celsius,
        file_stats.internal_resistance_ohm,
        file_stats.complete,
        file_stats.processor_version
    from file_stats
)
select assembled.* from assembled;
