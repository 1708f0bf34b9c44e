-- One row per cell: metadata, project and the capacity-fade summary (retention, cycles to 80 % / 70 %, the
-- projected cycle to 80 % while not reached, knee onset, energy retention, equivalent full cycles).
with

cells as (
    select
        cell.cell_id,
        cell.project_id,
        cell.chemistry,
        cell.cathode,
        cell.anode,
        cell.form_factor,
        cell.half_cell,
        cell.nominal_capacity_ah,
        cell.temperature_celsius,
        cell.source,
        cell.tester,
        cell.created_at
    from blc.cell as cell
),

projects as (
    select
        project.project_id,
        project.name as project_name
    from blc.project as project
),

summaries as (
    select
        cell_summary.cell_id,
        cell_summary.reference_capacity_ah,
        cell_summary.cycles,
        cell_summary.last_retention,
        cell_summary.fade_per_100_cycles,
        cell_summary.cycles_to_80,
        cell_summary.cycles_to_70,
        cell_summary.projected_cycles_to_80,
        cell_summary.knee_onset_cycle,
        cell_summary.last_energy_retention,
        cell_summary.equivalent_full_cycles
    from blc.cell_summary as cell_summary
),

final as (
    select
        cells.cell_id,
        projects.project_name,
        cells.chemistry,
        cells.cathode,
        cells.anode,
        cells.form_factor,
        cells.half_cell,
        cells.nominal_capacity_ah,
        summaries.reference_capacity_ah,
        cells.temperature_celsius,
        cells.source,
        cells.tester,
        summaries.cycles,
        round((summaries.last_retention * 100)::numeric, 2) as last_retention_pct,
        round((summaries.fade_per_100_cycles * 100)::numeric, 3) as fade_pct_per_100_cycles,
        summaries.cycles_to_80,
        summaries.cycles_to_70,
        summaries.projected_cycles_to_80,
        summaries.knee_onset_cycle,
        round((summaries.last_energy_retention * 100)::numeric, 2) as last_energy_retention_pct,
        round(summaries.equivalent_full_cycles::numeric, 1) as equivalent_full_cycles,
        cells.created_at
    from cells
    left join projects on projects.project_id = cells.project_id
    left join summaries on summaries.cell_id = cells.cell_id
)

select
    final.cell_id,
    final.project_name,
    final.chemistry,
    final.cathode,
    final.anode,
    final.form_factor,
    final.half_cell,
    final.nominal_capacity_ah,
    final.reference_capacity_ah,
    final.temperature_celsius,
    final.source,
    final.tester,
    final.cycles,
    final.last_retention_pct,
    final.fade_pct_per_100_cycles,
    final.cycles_to_80,
    final.cycles_to_70,
    final.projected_cycles_to_80,
    final.knee_onset_cycle,
    final.last_energy_retention_pct,
    final.equivalent_full_cycles,
    final.created_at
from final
order by final.cell_id
