-- Per-cycle capacities, energies, efficiencies and voltage limits for the chosen cells.
-- The *_in_range efficiency columns drop zeros and outliers above 1.1 so charts stay readable;
-- the plain columns keep the stored values for download.
with

stats as (
    select
        cycle_stats.cell_id,
        cycle_stats.cycle_index,
        cycle_stats.test_time_end_second,
        cycle_stats.charge_capacity_ah,
        cycle_stats.discharge_capacity_ah,
        cycle_stats.charge_energy_wh,
        cycle_stats.discharge_energy_wh,
        cycle_stats.coulombic_efficiency,
        cycle_stats.energy_efficiency,
        cycle_stats.voltage_max_v,
        cycle_stats.voltage_min_v,
        cycle_stats.complete
    from blc.cycle_stats as cycle_stats
    where cycle_stats.cell_id in ({{ cell_id }})
),

final as (
    select
        stats.cell_id,
        stats.cycle_index,
        stats.test_time_end_second,
        stats.test_time_end_second / 3600.0 as test_time_end_hour,
        stats.charge_capacity_ah,
        stats.discharge_capacity_ah,
        stats.charge_energy_wh,
        stats.discharge_energy_wh,
        stats.coulombic_efficiency,
        stats.energy_efficiency,
        case
            when stats.coulombic_efficiency > 0 and stats.coulombic_efficiency <= 1.1
                then stats.coulombic_efficiency
        end as coulombic_efficiency_in_range,
        case
            when stats.energy_efficiency > 0 and stats.energy_efficiency <= 1.1
                then stats.energy_efficiency
        end as energy_efficiency_in_range,
        stats.voltage_max_v,
        stats.voltage_min_v,
        stats.complete
    from stats
)

select
    final.cell_id,
    final.cycle_index,
    final.test_time_end_second,
    final.test_time_end_hour,
    final.charge_capacity_ah,
    final.discharge_capacity_ah,
    final.charge_energy_wh,
    final.discharge_energy_wh,
    final.coulombic_efficiency,
    final.energy_efficiency,
    final.coulombic_efficiency_in_range,
    final.energy_efficiency_in_range,
    final.voltage_max_v,
    final.voltage_min_v,
    final.complete
from final
order by final.cell_id, final.cycle_index
