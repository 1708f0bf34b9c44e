-- bench/run.py: `cells` synthetic cells × `cycles` cycles of capacity fade, built server side, for timing
-- the dashboard's capacity-fade query on a realistically large table.
insert into blc.cell (cell_id, project_id)
select
    'fade_' || lpad(c::text, 5, '0'),
    (select project_id from blc.project where name = 'default')
from generate_series(1, %(cells)s) as c;

insert into blc.capacity_fade (
    cell_id, cycle_index, discharge_capacity_ah, discharge_energy_wh,
    retention, energy_retention, coulombic_efficiency, complete, cycle_class, fade_series, capacity_ah
)
select
    'fade_' || lpad(c::text, 5, '0'),
    n,
    1.1 * (1 - 0.0002 * n),
    3.5 * (1 - 0.0002 * n),
    1 - 0.0002 * n,
    1 - 0.00021 * n,
    0.999,
    true,
    'ageing',
    'ageing',
    1.1 * (1 - 0.0002 * n)
from generate_series(1, %(cells)s) as c, generate_series(1, %(cycles)s) as n;

insert into blc.cell_summary (cell_id, reference_capacity_ah, cycles, complete_cycles, processor_version)
select 'fade_' || lpad(c::text, 5, '0'), 1.1, %(cycles)s, %(cycles)s, 'bench'
from generate_series(1, %(cells)s) as c;

analyze blc.capacity_fade;
analyze blc.cell_summary;
