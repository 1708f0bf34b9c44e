-- Issue 11: a ledger that tells the truth and heals itself.

-- Warnings about a file that was loaded all the same (e.g. a final line without a line end, dropped):
-- a JSON array of strings, shown by `blc status` and `blc files --all`.
alter table blc.source_file add column warnings jsonb not null default '[]'::jsonb;

-- Entries of a watched folder that could not be read (permission denied, a symlink loop, …). Kept so that
-- `blc files` can list them and a watch run can tell a new problem from one it already reported; the row
-- goes away when the entry becomes readable or disappears.
create table blc.unreadable_entry (
    uri         text primary key,
    error       text not null,
    first_seen  timestamptz not null default now(),
    last_seen   timestamptz not null default now()
);
