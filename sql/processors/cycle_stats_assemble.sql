-- A cell's cycle statistics, step 1 of 2: its files' per-cycle statistics (computed while each file was
-- streamed in, or recomputed from its stored samples by the pipeline), shifted by the file's stitch offsets
-- (cycle numbers and test time continue the previous file), into the temporary table assembled_cycle_stats.
-- A cycle split between two files (a resumed test) takes its row from merged_cycle_stats, which the
-- pipeline (blc.stitch.merge_split_cycles) filled before this step from both files' samples; one without
-- stored samples keeps the part of the file first in stitch order. Then blc.process classifies the
-- assembled cycles (processors/classify.py: cycle_class, and complete/flags for cycles it takes out of the
-- fade) and step 2, cycle_stats_apply.sql, writes them.
-- Binds: :cell_id, :processor_version.

drop table if exists pg_temp.assembled_cycle_stats;

create temporary table assembled_cycle_stats on commit drop as
with

cell_files as (
    select
        source_file.file_id,
        coalesce(source_file.stitch_position, 0) as stitch_position,
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
        cell_files.stitch_position,
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
        file_stats.charge_current_median_a,
        file_stats.discharge_current_median_a,
        file_stats.charge_duration_second,
        file_stats.discharge_duration_second,
        file_stats.charge_end_voltage_v,
        file_stats.discharge_end_voltage_v,
        file_stats.segments,
        file_stats.gap_second,
        file_stats.flags,
        file_stats.complete,
        file_stats.processor_version,
        file_stats.stitch_position
    from file_stats
),

from_files as (
    select distinct on (assembled.cycle_index) assembled.*
    from assembled
    where not exists (
        select 1 from merged_cycle_stats as merged where merged.cycle_index = assembled.cycle_index
    )
    order by assembled.cycle_index, assembled.stitch_position
)

select
    from_files.cell_id,
    from_files.cycle_index,
    from_files.charge_capacity_ah,
    from_files.discharge_capacity_ah,
    from_files.charge_energy_wh,
    from_files.discharge_energy_wh,
    from_files.coulombic_efficiency,
    from_files.energy_efficiency,
    from_files.voltage_max_v,
    from_files.voltage_min_v,
    from_files.current_max_a,
    from_files.current_min_a,
    from_files.voltage_charge_mean_v,
    from_files.voltage_discharge_mean_v,
    from_files.voltage_charge_sample_mean_v,
    from_files.voltage_discharge_sample_mean_v,
    from_files.test_time_start_second,
    from_files.test_time_end_second,
    from_files.duration_second,
    from_files.n_points,
    from_files.reported_charge_capacity_ah,
    from_files.reported_discharge_capacity_ah,
    from_files.reported_charge_energy_wh,
    from_files.reported_discharge_energy_wh,
    from_files.cc_capacity_ah,
    from_files.cv_capacity_ah,
    from_files.cv_time_second,
    from_files.temperature_min_celsius,
    from_files.temperature_mean_celsius,
    from_files.temperature_max_celsius,
    from_files.internal_resistance_ohm,
    from_files.charge_current_median_a,
    from_files.discharge_current_median_a,
    from_files.charge_duration_second,
    from_files.discharge_duration_second,
    from_files.charge_end_voltage_v,
    from_files.discharge_end_voltage_v,
    from_files.segments,
    from_files.gap_second,
    from_files.flags,
    from_files.complete,
    from_files.processor_version,
    null::text as cycle_class
from from_files
union all
select
    merged.cell_id,
    merged.cycle_index,
    merged.charge_capacity_ah,
    merged.discharge_capacity_ah,
    merged.charge_energy_wh,
    merged.discharge_energy_wh,
    merged.coulombic_efficiency,
    merged.energy_efficiency,
    merged.voltage_max_v,
    merged.voltage_min_v,
    merged.current_max_a,
    merged.current_min_a,
    merged.voltage_charge_mean_v,
    merged.voltage_discharge_mean_v,
    merged.voltage_charge_sample_mean_v,
    merged.voltage_discharge_sample_mean_v,
    merged.test_time_start_second,
    merged.test_time_end_second,
    merged.duration_second,
    merged.n_points,
    merged.reported_charge_capacity_ah,
    merged.reported_discharge_capacity_ah,
    merged.reported_charge_energy_wh,
    merged.reported_discharge_energy_wh,
    merged.cc_capacity_ah,
    merged.cv_capacity_ah,
    merged.cv_time_second,
    merged.temperature_min_celsius,
    merged.temperature_mean_celsius,
    merged.temperature_max_celsius,
    merged.internal_resistance_ohm,
    merged.charge_current_median_a,
    merged.discharge_current_median_a,
    merged.charge_duration_second,
    merged.discharge_duration_second,
    merged.charge_end_voltage_v,
    merged.discharge_end_voltage_v,
    merged.segments,
    merged.gap_second,
    merged.flags,
    merged.complete,
    merged.processor_version,
    null::text as cycle_class
from merged_cycle_stats as merged;
