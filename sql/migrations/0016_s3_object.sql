-- Objects of watched S3 prefixes, by URI: the ETag the ingest fetched and the content (sha256) it found.
-- The watcher lists a prefix without reading it: an object whose URI and ETag are here is known, and its
-- ledger row (by sha256) says whether anything is left to do. A second key holding content the ledger
-- already has is remembered here too, so that it is not fetched again at every poll.
create table blc.s3_object (
    uri         text primary key,
    etag        text not null,
    sha256      text not null,
    size_bytes  bigint not null,
    fetched_at  timestamptz not null default now()
);
create index s3_object_sha256_idx on blc.s3_object (sha256);
