-- A cell's cycle statistics from its files' per-cycle statistics (computed while each file was streamed in,
-- or recomputed from its stored samples by the pipeline), shifted by the file's stitch offsets (cycle
-- numbers and test time continue the previous file). The pipeline has made every loaded file's statistics
-- current first. Only rows that change are written: a cycle whose figures are the same keeps its row (and
-- its computed_at), so a grown file rewrites only the cycles it touched; cycles that no longer exist go.
-- Binds: :cell_id, :processor_version.

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

delete from blc.cycle_stats as existing
where
    existing.cell_id = :cell_id
    and not exists (
        select 1
        from assembled_cycle_stats as assembled
        where
            assembled.cycle_index = existing.cycle_index
            and (
                assembled.charge_capacity_ah, assembled.discharge_capacity_ah, assembled.charge_energy_wh,
                assembled.discharge_energy_wh, assembled.coulombic_efficiency, assembled.energy_efficiency,
                assembled.voltage_max_v, assembled.voltage_min_v, assembled.current_max_a,
                assembled.current_min_a, assembled.voltage_charge_mean_v, assembled.voltage_discharge_mean_v,
                assembled.voltage_charge_sample_mean_v, assembled.voltage_discharge_sample_mean_v,
                assembled.test_time_start_second, assembled.test_time_end_second, assembled.duration_second,
                assembled.n_points, assembled.reported_charge_capacity_ah,
                assembled.reported_discharge_capacity_ah, assembled.reported_charge_energy_wh,
                assembled.reported_discharge_energy_wh, assembled.cc_capacity_ah, assembled.cv_capacity_ah,
                assembled.cv_time_second, assembled.temperature_min_celsius, assembled.temperature_mean_celsius,
                assembled.temperature_max_celsius, assembled.internal_resistance_ohm, assembled.complete,
                assembled.processor_version
            ) is not distinct from (
                existing.charge_capacity_ah, existing.discharge_capacity_ah, existing.charge_energy_wh,
                existing.discharge_energy_wh, existing.coulombic_efficiency, existing.energy_efficiency,
                existing.voltage_max_v, existing.voltage_min_v, existing.current_max_a,
                existing.current_min_a, existing.voltage_charge_mean_v,
                existing.voltage_discharge_mean_v, existing.voltage_charge_sample_mean_v,
                existing.voltage_discharge_sample_mean_v, existing.test_time_start_second,
                existing.test_time_end_second, existing.duration_second, existing.n_points,
                existing.reported_charge_capacity_ah, existing.reported_discharge_capacity_ah,
                existing.reported_charge_energy_wh, existing.reported_discharge_energy_wh,
                existing.cc_capacity_ah, existing.cv_capacity_ah, existing.cv_time_second,
                existing.temperature_min_celsius, existing.temperature_mean_celsius,
                existing.temperature_max_celsius, existing.internal_resistance_ohm, existing.complete,
                existing.processor_version
            )
    );

insert into blc.cycle_stats (
    cell_id, cycle_index, charge_capacity_ah, discharge_capacity_ah, charge_energy_wh, discharge_energy_wh,
    coulombic_efficiency, energy_efficiency, voltage_max_v, voltage_min_v, current_max_a, current_min_a,
    voltage_charge_mean_v, voltage_discharge_mean_v, voltage_charge_sample_mean_v,
    voltage_discharge_sample_mean_v, test_time_start_second, test_time_end_second, duration_second, n_points,
    reported_charge_capacity_ah, reported_discharge_capacity_ah, reported_charge_energy_wh,
    reported_discharge_energy_wh, cc_capacity_ah, cv_capacity_ah, cv_time_second, temperature_min_celsius,
    temperature_mean_celsius, temperature_max_celsius, internal_resistance_ohm, complete, processor_version
)
select
    assembled.cell_id, assembled.cycle_index, assembled.charge_capacity_ah, assembled.discharge_capacity_ah,
    assembled.charge_energy_wh, assembled.discharge_energy_wh, assembled.coulombic_efficiency,
    assembled.energy_efficiency, assembled.voltage_max_v, assembled.voltage_min_v, assembled.current_max_a,
    assembled.current_min_a, assembled.voltage_charge_mean_v, assembled.voltage_discharge_mean_v,
    assembled.voltage_charge_sample_mean_v, assembled.voltage_discharge_sample_mean_v,
    assembled.test_time_start_second, assembled.test_time_end_second, assembled.duration_second,
    assembled.n_points, assembled.reported_charge_capacity_ah, assembled.reported_discharge_capacity_ah,
    assembled.reported_charge_energy_wh, assembled.reported_discharge_energy_wh, assembled.cc_capacity_ah,
    assembled.cv_capacity_ah, assembled.cv_time_second, assembled.temperature_min_celsius,
    assembled.temperature_mean_celsius, assembled.temperature_max_celsius, assembled.internal_resistance_ohm,
    assembled.complete, assembled.processor_version
from assembled_cycle_stats as assembled
where not exists (
    select 1
    from blc.cycle_stats as existing
    where existing.cell_id = :cell_id and existing.cycle_index = assembled.cycle_index
)
order by assembled.cycle_index
