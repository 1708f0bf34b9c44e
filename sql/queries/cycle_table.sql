-- `blc cycles`: a cell's per-cycle statistics, with the vendor's own per-cycle summary beside them (one
-- vendor row per cycle: the lowest vendor cycle number that maps onto it).
with vendor as (
    select distinct on (vendor_summary.cycle_index)
        vendor_summary.cycle_index,
        vendor_summary.charge_capacity_ah,
        vendor_summary.discharge_capacity_ah,
        vendor_summary.charge_energy_wh,
        vendor_summary.discharge_energy_wh,
        vendor_summary.source_name
    from blc.cell_vendor_cycle_summary as vendor_summary
    where vendor_summary.cell_id = :cell_id
    order by vendor_summary.cycle_index, vendor_summary.cycle_count
)

select
    stats.*,
    vendor.charge_capacity_ah as vendor_charge_capacity_ah,
    vendor.discharge_capacity_ah as vendor_discharge_capacity_ah,
    vendor.charge_energy_wh as vendor_charge_energy_wh,
    vendor.discharge_energy_wh as vendor_discharge_energy_wh,
    vendor.source_name as vendor_summary
from blc.cycle_stats as stats
left join vendor on vendor.cycle_index = stats.cycle_index
where stats.cell_id = :cell_id
order by stats.cycle_index
