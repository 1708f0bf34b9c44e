insert into blc.cell (cell_id, project_id, nominal_capacity_ah, tester, chemistry, anode,
cathode, form_factor, source, temperature_celsius, half_cell, half_cell_basis, metadata)
values (:cell, :project, :nominal, :tester, :chemistry, :anode, :cathode, :form_factor,
:source, :temperature_celsius, :half_cell,
case when cast(:half_cell as boolean) is not null then 'metadata' end, cast(:metadata as jsonb))
on conflict (cell_id) do update set metadata = blc.cell.metadata || excluded.metadata,
nominal_capacity_ah = coalesce(excluded.nominal_capacity_ah, blc.cell.nominal_capacity_ah),
chemistry = coalesce(excluded.chemistry, blc.cell.chemistry),
anode = coalesce(excluded.anode, blc.cell.anode),
cathode = coalesce(excluded.cathode, blc.cell.cathode),
form_factor = coalesce(excluded.form_factor, blc.cell.form_factor),
source = coalesce(excluded.source, blc.cell.source),
temperature_celsius = coalesce(excluded.temperature_celsius, blc.cell.temperature_celsius),
half_cell = coalesce(excluded.half_cell, blc.cell.half_cell),
half_cell_basis = case when excluded.half_cell is not null then 'metadata' else blc.cell.half_cell_basis end
