-- The ledger row of each offered URI: its own newest row, else (an S3 object whose content the ledger holds
-- under another name) the row of its content. `fetched` says whether an S3 object was ever read.
select distinct on (offered.uri) offered.uri, file.uri as ledger_uri, file.status, file.cell_id, file.rows,
file.error, file.warnings, object.uri is not null as fetched,
(select count(*) from blc.cycle_stats as stats where stats.cell_id = file.cell_id) as cycles
from unnest(cast(:uris as text[])) as offered (uri)
left join blc.s3_object as object on object.uri = offered.uri
left join blc.source_file as file on file.uri = offered.uri or file.sha256 = object.sha256
order by offered.uri, file.uri = offered.uri desc nulls last, file.file_id desc
