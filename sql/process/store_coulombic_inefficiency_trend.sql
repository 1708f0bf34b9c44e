update blc.capacity_fade as fade set coulombic_inefficiency_smoothed = trend.value
from unnest(cast(:cycles as integer[]), cast(:values as double precision[]))
as trend (cycle_index, value)
where fade.cell_id = :cell and fade.cycle_index = trend.cycle_index
