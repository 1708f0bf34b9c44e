select file_id, sha256, size_bytes, rows, last_cycle_index, cycle_rule, cell_id, format
from blc.source_file where uri = :uri and status in ('loaded', 'processed')
order by file_id desc limit 1
