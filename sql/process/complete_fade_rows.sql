select cycle_index, retention, coulombic_inefficiency from blc.capacity_fade
where cell_id = :cell and complete order by cycle_index
