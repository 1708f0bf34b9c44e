-- Vendor per-cycle summaries that came beside a time series (connectors/companions.py: batteryarchive.org
-- _cycle_data.csv, batterydata.energy.gov -summary.csv, Novonix _metadata.csv). Kept for comparison with
-- what we recalculate, never used as our statistics. One row per vendor cycle; cycle_index is OUR cycle
-- (within the file, before stitching) where the vendor's cycle_count first appears in the samples.
create table blc.vendor_cycle_summary (
    file_id                bigint not null references blc.source_file (file_id) on delete cascade,
    source_name            text not null,
    cycle_count            integer not null,
    cycle_index            integer,
    charge_capacity_ah     double precision,
    discharge_capacity_ah  double precision,
    charge_energy_wh       double precision,
    discharge_energy_wh    double precision,
    primary key (file_id, cycle_count)
);

-- A cell's vendor numbers on our stitched cycle numbers, beside which cycle_stats can be read.
create view blc.cell_vendor_cycle_summary as
select
    source_file.cell_id,
    summary.cycle_index + coalesce(source_file.cycle_offset, 0) as cycle_index,
    summary.file_id,
    summary.source_name,
    summary.cycle_count,
    summary.charge_capacity_ah,
    summary.discharge_capacity_ah,
    summary.charge_energy_wh,
    summary.discharge_energy_wh
from blc.vendor_cycle_summary as summary
inner join blc.source_file as source_file on source_file.file_id = summary.file_id
where summary.cycle_index is not null and source_file.status in ('loaded', 'processed');
