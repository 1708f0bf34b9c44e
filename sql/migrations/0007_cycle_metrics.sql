-- Issue 5: the full per-cycle metric set, fade extras and one definition of the reference capacity.

-- Per cycle: CC/CV split, cell temperature, the instrument's resistance (processors/cycle_stats.py), and the
-- cumulative figures filled per cell by sql/processors/cycle_cumulative.sql.
alter table blc.cycle_stats
    add column cc_capacity_ah            double precision,
    add column cv_capacity_ah            double precision,
    add column cv_time_second            double precision,
    add column temperature_min_celsius   double precision,
    add column temperature_mean_celsius  double precision,
    add column temperature_max_celsius   double precision,
    add column internal_resistance_ohm   double precision,
    add column throughput_ah             double precision,
    add column throughput_wh             double precision,
    add column equivalent_full_cycles    double precision;

alter table blc.file_cycle_stats
    add column cc_capacity_ah            double precision,
    add column cv_capacity_ah            double precision,
    add column cv_time_second            double precision,
    add column temperature_min_celsius   double precision,
    add column temperature_mean_celsius  double precision,
    add column temperature_max_celsius   double precision,
    add column internal_resistance_ohm   double precision;

alter table blc.capacity_fade
    add column coulombic_inefficiency           double precision,
    add column coulombic_inefficiency_smoothed  double precision,
    add column equivalent_full_cycles           double precision;

alter table blc.cell_summary
    add column reference_energy_wh              double precision,
    add column last_energy_retention            double precision,
    add column capacity_basis                   text check (capacity_basis in ('nominal', 'reference')),
    add column throughput_ah                    double precision,
    add column equivalent_full_cycles           double precision,
    add column projected_cycles_to_80           integer,
    add column projected_cycles_to_70           integer,
    add column knee_onset_cycle                 integer,
    add column knee_onset_retention             double precision,
    add column coulombic_inefficiency_recent    double precision;

-- DESIGN §6: the reference is the median discharge capacity (and energy) of the first 3 complete cycles
-- after formation. One definition, used by capacity_fade, cell_summary and cycle_cumulative.
create function blc.reference_capacity(cell text, formation_cycles integer)
returns table (capacity_ah double precision, energy_wh double precision)
language sql stable as $$
    select
        percentile_cont(0.5) within group (order by first_cycles.discharge_capacity_ah),
        percentile_cont(0.5) within group (order by first_cycles.discharge_energy_wh)
    from (
        select cycle_stats.discharge_capacity_ah, cycle_stats.discharge_energy_wh
        from blc.cycle_stats as cycle_stats
        where
            cycle_stats.cell_id = cell
            and cycle_stats.complete
            and cycle_stats.discharge_capacity_ah > 0
            and cycle_stats.cycle_index > formation_cycles
        order by cycle_stats.cycle_index
        limit 3
    ) as first_cycles
$$;
