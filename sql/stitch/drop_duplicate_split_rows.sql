delete from assembled_cycle_stats as later using assembled_cycle_stats as earlier
where later.cycle_index = :c and earlier.cycle_index = :c and later.ctid > earlier.ctid
