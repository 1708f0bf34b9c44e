-- What the cycle classification reads (blc.process, processors/classify.py): the assembled cycles of one
-- cell (sql/processors/cycle_stats_assemble.sql), and the cell's nominal capacity. Binds: :cell_id.
select
    assembled.cycle_index,
    assembled.complete,
    assembled.flags,
    assembled.charge_capacity_ah,
    assembled.discharge_capacity_ah,
    assembled.discharge_current_median_a,
    assembled.charge_duration_second,
    assembled.discharge_duration_second,
    assembled.charge_end_voltage_v,
    assembled.discharge_end_voltage_v,
    assembled.segments,
    assembled.voltage_max_v,
    assembled.voltage_min_v
from assembled_cycle_stats as assembled
order by assembled.cycle_index
