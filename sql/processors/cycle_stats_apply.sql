-- A cell's cycle statistics, step 2 of 2: write assembled_cycle_stats (step 1) into blc.cycle_stats. Only
-- rows that change are written: a cycle whose figures are the same keeps its row (and its computed_at), so
-- a grown file rewrites only the cycles it touched; cycles that no longer exist go. Binds: :cell_id.

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
                assembled.cv_time_second, assembled.temperature_min_celsius,
                assembled.temperature_mean_celsius,
                assembled.temperature_max_celsius, assembled.internal_resistance_ohm, assembled.complete,
                assembled.charge_current_median_a, assembled.discharge_current_median_a,
                assembled.charge_duration_second, assembled.discharge_duration_second,
                assembled.charge_end_voltage_v, assembled.discharge_end_voltage_v, assembled.segments,
                assembled.gap_second, assembled.flags, assembled.cycle_class,
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
                existing.charge_current_median_a, existing.discharge_current_median_a,
                existing.charge_duration_second, existing.discharge_duration_second,
                existing.charge_end_voltage_v, existing.discharge_end_voltage_v, existing.segments,
                existing.gap_second, existing.flags, existing.cycle_class,
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
    temperature_mean_celsius, temperature_max_celsius, internal_resistance_ohm, complete,
    charge_current_median_a, discharge_current_median_a, charge_duration_second, discharge_duration_second,
    charge_end_voltage_v, discharge_end_voltage_v, segments, gap_second, flags, cycle_class,
    processor_version
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
    assembled.complete, assembled.charge_current_median_a, assembled.discharge_current_median_a,
    assembled.charge_duration_second, assembled.discharge_duration_second, assembled.charge_end_voltage_v,
    assembled.discharge_end_voltage_v, assembled.segments, assembled.gap_second, assembled.flags,
    assembled.cycle_class, assembled.processor_version
from assembled_cycle_stats as assembled
where not exists (
    select 1
    from blc.cycle_stats as existing
    where existing.cell_id = :cell_id and existing.cycle_index = assembled.cycle_index
)
order by assembled.cycle_index
