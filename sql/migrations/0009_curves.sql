-- Downsampled V–Q curves and dQ/dV per half-cycle (DESIGN §4 `curve`, processors/curves.py), kept per file
-- like file_cycle_stats (computed while the file streams in, recomputed from its samples when the processor
-- version changes) and seen per cell, on stitched cycle numbers, through the view blc.curve.
create table blc.file_curve (
    file_id            bigint not null references blc.source_file (file_id) on delete cascade,
    cycle_index        integer not null,
    direction          text not null check (direction in ('charge', 'discharge')),
    point              integer not null,
    capacity_ah        double precision not null,
    voltage_volt       double precision not null,
    dqdv               double precision,
    processor_version  text not null,
    primary key (file_id, cycle_index, direction, point)
);

create view blc.curve as
select
    source_file.cell_id,
    file_curve.cycle_index + coalesce(source_file.cycle_offset, 0) as cycle_index,
    file_curve.direction,
    file_curve.point,
    file_curve.capacity_ah,
    file_curve.voltage_volt,
    file_curve.dqdv,
    file_curve.processor_version
from blc.file_curve as file_curve
inner join blc.source_file as source_file on source_file.file_id = file_curve.file_id
where source_file.status in ('loaded', 'processed');
