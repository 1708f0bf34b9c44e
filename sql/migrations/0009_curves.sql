-- Downsampled V–Q curves and dQ/dV per half-cycle (DESIGN §4 `curve`, processors/curves.py), kept per file
-- like file_cycle_stats (computed while the file streams in, recomputed from its samples when the processor
-- version changes). One row per half-cycle, its ≤ 500 points as arrays: a point per row would make the
-- table as long as a tenth of the time series and its COPY as slow (docs/adr/0006). blc.curve unnests them
-- into DESIGN's layout, one row per point, on stitched cycle numbers.
create table blc.file_curve (
    file_id            bigint not null references blc.source_file (file_id) on delete cascade,
    cycle_index        integer not null,
    direction          text not null check (direction in ('charge', 'discharge')),
    capacity_ah        double precision[] not null,
    voltage_volt       double precision[] not null,
    dqdv               double precision[] not null,
    processor_version  text not null,
    primary key (file_id, cycle_index, direction),
    check (cardinality(capacity_ah) = cardinality(voltage_volt) and cardinality(dqdv) = cardinality(voltage_volt))
);

create view blc.curve as
select
    source_file.cell_id,
    file_curve.cycle_index + coalesce(source_file.cycle_offset, 0) as cycle_index,
    file_curve.direction,
    (points.ordinality - 1)::integer as point,
    points.capacity_ah,
    points.voltage_volt,
    points.dqdv,
    file_curve.processor_version
from blc.file_curve as file_curve
inner join blc.source_file as source_file on source_file.file_id = file_curve.file_id
cross join lateral unnest(file_curve.capacity_ah, file_curve.voltage_volt, file_curve.dqdv)
    with ordinality as points (capacity_ah, voltage_volt, dqdv, ordinality)
where source_file.status in ('loaded', 'processed');
