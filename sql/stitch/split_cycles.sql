-- Cycles of a cell that stitching put on one number in more than one file (a test resumed mid-cycle), and
-- the cell's last cycle number. Binds: :cell, :version.
with stitched as (
    select file_cycle_stats.cycle_index + coalesce(source_file.cycle_offset, 0) as cycle_index
    from blc.file_cycle_stats as file_cycle_stats
    inner join blc.source_file as source_file on source_file.file_id = file_cycle_stats.file_id
    where
        source_file.cell_id = :cell
        and source_file.status in ('loaded', 'processed')
        and file_cycle_stats.processor_version = :version
)

select
    stitched.cycle_index,
    count(*) > 1 as split,
    stitched.cycle_index = max(stitched.cycle_index) over () as last
from stitched
group by stitched.cycle_index
