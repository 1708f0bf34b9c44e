-- The classification (processors/classify.py) written onto the assembled cycles before they are applied:
-- each cycle's class, and complete/flags for the cycles it took out of the fade.
-- Binds: :cycles, :classes, :complete, :flags (arrays, one element per cycle).
update assembled_cycle_stats as assembled
set
    cycle_class = classified.cycle_class,
    complete = classified.complete,
    flags = classified.flags
from unnest(
    cast(:cycles as integer[]),
    cast(:classes as text[]),
    cast(:complete as boolean[]),
    cast(:flags as text[])
) as classified (cycle_index, cycle_class, complete, flags)
where assembled.cycle_index = classified.cycle_index
