insert into blc.s3_object (uri, etag, sha256, size_bytes) values (:uri, :etag, :sha256, :size_bytes)
on conflict (uri) do update set etag = excluded.etag, sha256 = excluded.sha256,
size_bytes = excluded.size_bytes, fetched_at = now()
