-- `blc cells`, the demo and the API: every cell with its project and fade summary, and how many files
-- hold its samples.
with loaded_files as (
    select
        source_file.cell_id,
        count(*) as files
    from blc.source_file as source_file
    where source_file.status in ('loaded', 'processed')
    group by source_file.cell_id
)

select
    cell.cell_id,
    project.name as project,
    cell.half_cell,
    summary.cycles,
    summary.complete_cycles,
    summary.first_discharge_capacity_ah,
    summary.last_discharge_capacity_ah,
    summary.reference_capacity_ah,
    summary.nominal_capacity_ah,
    summary.last_retention,
    summary.last_energy_retention,
    summary.fade_per_100_cycles,
    summary.cycles_to_80,
    summary.cycles_to_70,
    summary.projected_cycles_to_80,
    summary.projected_cycles_to_70,
    summary.knee_onset_cycle,
    summary.knee_onset_retention,
    summary.coulombic_inefficiency_recent,
    summary.throughput_ah,
    summary.equivalent_full_cycles,
    summary.capacity_basis,
    summary.ageing_cycles,
    summary.reference_check_cycles,
    summary.reference_check_capacity_ah,
    summary.reference_check_last_retention,
    summary.reference_check_cycles_to_80,
    summary.half_cell_basis,
    coalesce(loaded_files.files, 0) as files
from blc.cell as cell
inner join blc.project as project on project.project_id = cell.project_id
left join blc.cell_summary as summary on summary.cell_id = cell.cell_id
left join loaded_files on loaded_files.cell_id = cell.cell_id
order by cell.cell_id
