insert into blc.unreadable_entry (uri, error) values (:uri, :error)
on conflict (uri) do update set error = excluded.error, last_seen = now()
returning (xmax = 0) as inserted
