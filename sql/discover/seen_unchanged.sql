select file_id, sha256, status, attempts from blc.source_file where uri = :uri and etag = :etag
order by file_id desc limit 1
