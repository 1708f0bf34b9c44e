select min(cycle_index) as lo, max(cycle_index) as hi, count(*) as n
from blc.timeseries where file_id = :file
