update blc.cell_summary set knee_onset_cycle = :cycle, knee_onset_retention = :retention
where cell_id = :cell
