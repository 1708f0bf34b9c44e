-- Per-cycle statistics of one file, computed while the file is streamed in (no second read of its rows).
-- A cell made of one file (the common case) takes its cycle_stats straight from here; a cell of several
-- files, or stats of an older processor version, are recomputed from blc.timeseries (docs/adr/0004).
create table blc.file_cycle_stats (
    file_id                          bigint not null references blc.source_file (file_id) on delete cascade,
    cycle_index                      integer not null,
    charge_capacity_ah               double precision not null,
    discharge_capacity_ah            double precision not null,
    charge_energy_wh                 double precision not null,
    discharge_energy_wh              double precision not null,
    coulombic_efficiency             double precision,
    energy_efficiency                double precision,
    voltage_max_v                    double precision,
    voltage_min_v                    double precision,
    current_max_a                    double precision,
    current_min_a                    double precision,
    voltage_charge_mean_v            double precision,
    voltage_discharge_mean_v         double precision,
    voltage_charge_sample_mean_v     double precision,
    voltage_discharge_sample_mean_v  double precision,
    test_time_start_second           double precision not null,
    test_time_end_second             double precision not null,
    duration_second                  double precision not null,
    n_points                         integer not null,
    reported_charge_capacity_ah      double precision,
    reported_discharge_capacity_ah   double precision,
    reported_charge_energy_wh        double precision,
    reported_discharge_energy_wh     double precision,
    complete                         boolean not null,
    processor_version                text not null,
    primary key (file_id, cycle_index)
);
