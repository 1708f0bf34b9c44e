-- Core tables of the platform (DESIGN §4): projects and cells, the file ledger, the canonical time series,
-- per-cycle statistics, capacity fade, cell summaries and validation results. Schema blc.

create table blc.project (
    project_id   bigserial primary key,
    name         text not null unique check (name ~ '^[a-z0-9_]+$'),
    created_at   timestamptz not null default now()
);

create table blc.cell (
    cell_id              text primary key,
    project_id           bigint not null references blc.project (project_id),
    anode                text,
    cathode              text,
    chemistry            text,
    form_factor          text,
    nominal_capacity_ah  numeric,
    source               text,
    tester               text,
    temperature_celsius  double precision,
    metadata             jsonb not null default '{}'::jsonb,
    created_at           timestamptz not null default now()
);

-- The ledger. One row per distinct content (sha256); a new content at a known URI supersedes the old row.
create table blc.source_file (
    file_id         bigserial primary key,
    uri             text not null,
    sha256          text not null,
    size_bytes      bigint not null,
    etag            text,
    cell_id         text references blc.cell (cell_id),
    format          text,
    parser_version  text,
    cycle_rule      text,
    status          text not null check (status in (
                        'discovered', 'stable', 'ingesting', 'loaded', 'processed',
                        'quarantined', 'failed', 'superseded')),
    error           text,
    rows            bigint,
    attempts        integer not null default 0,
    first_seen      timestamptz not null default now(),
    loaded_at       timestamptz,
    updated_at      timestamptz not null default now()
);
create unique index source_file_sha256_key on blc.source_file (sha256);
create index source_file_uri_idx on blc.source_file (uri);
create index source_file_status_idx on blc.source_file (status);

-- Canonical time series: BDF names, SI units, + current = charge. double precision everywhere (DESIGN §3).
create table blc.timeseries (
    cell_id                        text not null,
    file_id                        bigint not null,
    record_index                   bigint not null,
    test_time_second               double precision not null,
    unix_time_second               double precision,
    cycle_index                    integer not null,
    cycle_count                    integer,
    step_count                     integer,
    step_id                        integer,
    step_time_second               double precision,
    current_ampere                 double precision not null,
    voltage_volt                   double precision not null,
    power_watt                     double precision,
    charging_capacity_ah           double precision,
    discharging_capacity_ah        double precision,
    charging_energy_wh             double precision,
    discharging_energy_wh          double precision,
    cycle_charging_capacity_ah     double precision,
    cycle_discharging_capacity_ah  double precision,
    cycle_charging_energy_wh       double precision,
    cycle_discharging_energy_wh    double precision,
    internal_resistance_ohm        double precision,
    ambient_temperature_celsius    double precision,
    surface_temperature_celsius    double precision,
    temperature_t1_celsius         double precision
);
create index timeseries_file_idx on blc.timeseries (file_id);
create index timeseries_cell_cycle_idx on blc.timeseries (cell_id, cycle_index);
create index timeseries_time_brin on blc.timeseries using brin (test_time_second);

create table blc.cycle_stats (
    cell_id                          text not null references blc.cell (cell_id) on delete cascade,
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
    computed_at                      timestamptz not null default now(),
    primary key (cell_id, cycle_index)
);

create table blc.capacity_fade (
    cell_id                text not null references blc.cell (cell_id) on delete cascade,
    cycle_index            integer not null,
    discharge_capacity_ah  double precision not null,
    discharge_energy_wh    double precision not null,
    retention              double precision,
    energy_retention       double precision,
    coulombic_efficiency   double precision,
    complete               boolean not null,
    primary key (cell_id, cycle_index)
);

create table blc.cell_summary (
    cell_id                     text primary key references blc.cell (cell_id) on delete cascade,
    reference_capacity_ah       double precision,
    nominal_capacity_ah         numeric,
    cycles                      integer not null,
    complete_cycles             integer not null,
    first_discharge_capacity_ah double precision,
    last_discharge_capacity_ah  double precision,
    last_retention              double precision,
    fade_per_100_cycles         double precision,
    cycles_to_80                integer,
    cycles_to_70                integer,
    processor_version           text not null,
    computed_at                 timestamptz not null default now()
);

create table blc.validation_result (
    validation_id        bigserial primary key,
    file_id              bigint not null references blc.source_file (file_id) on delete cascade,
    stage                text not null,
    suite                text not null,
    success              boolean not null,
    evaluated            integer,
    failed_expectations  jsonb not null default '[]'::jsonb,
    report_uri           text,
    at                   timestamptz not null default now()
);
create index validation_result_file_idx on blc.validation_result (file_id);

insert into blc.project (name) values ('default');
