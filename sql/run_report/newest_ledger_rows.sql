select distinct on (uri) file.uri, file.status, file.cell_id, file.rows, file.error,
file.warnings, (select count(*) from blc.cycle_stats as stats
where stats.cell_id = file.cell_id) as cycles
from blc.source_file as file where file.uri = any(:uris)
order by file.uri, file.file_id desc
