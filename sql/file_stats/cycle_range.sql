select first_cycle_index as lo, last_cycle_index as hi, rows as n,
(first_cycle_index is null)::int as unknown
from blc.source_file where file_id = :file
