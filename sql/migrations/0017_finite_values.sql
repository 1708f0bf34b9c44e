-- NaN and ±Infinity are values to float8 but not to JSON: a dashboard query that returns one fails in
-- Redash's worker ("Out of range float values are not JSON compliant") and its widgets go blank. Nothing
-- that leaves the database through a view should hold one: blc.finite(x) is x, or NULL when x is not a
-- finite number (an undefined dQ/dV where the voltage did not move, say).
create function blc.finite(x double precision) returns double precision
language sql immutable strict parallel safe
as $$ select case when x in ('NaN', 'Infinity', '-Infinity') then null else x end $$;

create or replace view blc.curve as
select
    source_file.cell_id,
    file_curve.cycle_index + coalesce(source_file.cycle_offset, 0) as cycle_index,
    file_curve.direction,
    (points.ordinality - 1)::integer as point,
    blc.finite(points.capacity_ah) as capacity_ah,
    blc.finite(points.voltage_volt) as voltage_volt,
    blc.finite(points.dqdv) as dqdv,
    file_curve.processor_version
from blc.file_curve as file_curve
inner join blc.source_file as source_file on source_file.file_id = file_curve.file_id
cross join lateral unnest(file_curve.capacity_ah, file_curve.voltage_volt, file_curve.dqdv)
    with ordinality as points (capacity_ah, voltage_volt, dqdv, ordinality)
where source_file.status in ('loaded', 'processed');
