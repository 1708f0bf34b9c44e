-- Impedance spectra (EIS): the rows a cycler measured in the frequency domain (a positive frequency:
-- BioLogic PEIS/GEIS points, BDF files with frequency_hertz). They are no time-series samples (their current
-- is an AC excitation's, alternating in sign), so the load keeps them here instead of in blc.timeseries,
-- in the same transaction (docs/design.md §4). Values as the connector gives them: BDF names, SI units;
-- imaginary_impedance_ohm is Im(Z) itself (negative for a capacitive response), phase_degree is arg(Z).
create table blc.impedance_spectrum (
    cell_id                  text not null references blc.cell (cell_id) on delete cascade,
    file_id                  bigint not null references blc.source_file (file_id) on delete cascade,
    -- 1, 2, … in file order: a sweep ends where a time-series row, another step or instrument cycle, or a
    -- frequency turning back begins the next.
    sweep                    integer not null,
    -- 1, 2, … within the sweep, in file order.
    point                    integer not null,
    -- The file's own test time of the point (`blc impedance` adds the cell's stitching offsets).
    test_time_second         double precision not null,
    unix_time_second         double precision,
    -- The file's cycle the sweep was measured in or after: that of the last time-series row before it (of
    -- the first one after it when the file starts with a sweep; null in a file of sweeps only).
    cycle_index              integer,
    cycle_count              integer,
    step_id                  integer,
    frequency_hertz          double precision not null check (frequency_hertz > 0),
    real_impedance_ohm       double precision,
    imaginary_impedance_ohm  double precision,
    absolute_impedance_ohm   double precision,
    phase_degree             double precision,
    -- The DC level the sweep was measured at, as the instrument wrote it on the point.
    current_ampere           double precision,
    voltage_volt             double precision,
    primary key (file_id, sweep, point)
);
create index impedance_spectrum_cell_idx on blc.impedance_spectrum (cell_id);
