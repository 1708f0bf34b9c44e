select file.file_id, file.sha256, file.status, file.attempts
from blc.s3_object as object
inner join blc.source_file as file on file.sha256 = object.sha256
where object.uri = :uri and object.etag = :etag
