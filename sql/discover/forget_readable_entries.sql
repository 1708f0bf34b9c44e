delete from blc.unreadable_entry
where exists (select 1 from unnest(cast(:roots as text[])) as root
where starts_with(uri, root))
and not (uri = any(cast(:seen as text[])))
