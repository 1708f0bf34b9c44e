-- The ledger as `blc files` and `blc status` show it: one row per source_file (one per content), and the
-- entries of a watched folder that could not be read (blc.unreadable_entry) with status 'unreadable'.
-- Newest first: the row changed last (updated_at; an unreadable entry's last_seen), then the highest file_id.
-- Binds, each null for "any": :status (text), :file_id (bigint), :uris (text[], exact URIs),
-- :names (text[], the URI's last segment as stored, e.g. both 'a b.csv' and 'a%20b.csv').
with

files as (
    select
        source_file.file_id,
        source_file.uri,
        source_file.cell_id as cell,
        source_file.format,
        source_file.status,
        source_file.rows,
        source_file.error as reason,
        source_file.first_seen,
        source_file.loaded_at,
        source_file.updated_at,
        source_file.sha256,
        source_file.size_bytes,
        source_file.attempts,
        source_file.parser_version,
        source_file.cycle_rule,
        source_file.warnings
    from blc.source_file as source_file
),

unreadable as (
    select
        cast(null as bigint) as file_id,
        unreadable_entry.uri,
        cast(null as text) as cell,
        cast(null as text) as format,
        'unreadable' as status,
        cast(null as bigint) as rows,
        unreadable_entry.error as reason,
        unreadable_entry.first_seen,
        cast(null as timestamptz) as loaded_at,
        unreadable_entry.last_seen as updated_at,
        cast(null as text) as sha256,
        cast(null as bigint) as size_bytes,
        cast(null as integer) as attempts,
        cast(null as text) as parser_version,
        cast(null as text) as cycle_rule,
        cast('[]' as jsonb) as warnings
    from blc.unreadable_entry as unreadable_entry
),

ledger as (
    select * from files
    union all
    select * from unreadable
)

select ledger.*
from ledger
where
    (cast(:status as text) is null or ledger.status = :status)
    and (cast(:file_id as bigint) is null or ledger.file_id = :file_id)
    and (cast(:uris as text[]) is null or ledger.uri = any(:uris))
    and (cast(:names as text[]) is null or substring(ledger.uri from '[^/]*$') = any(:names))
order by ledger.updated_at desc, ledger.file_id desc nulls last
