-- V–Q and dQ/dV curves of three chosen cycles per chosen cell (one series per cell, cycle and direction).
-- cell_id is a multi-select query-based dropdown: Redash renders the chosen cells as 'a','b'.
with

curves as (
    select
        curve.cell_id,
        curve.cycle_index,
        curve.direction,
        curve.point,
        curve.capacity_ah,
        curve.voltage_volt,
        curve.dqdv
    from blc.curve as curve
    where
        curve.cell_id in ({{ cell_id }})
        and curve.cycle_index in ({{ cycle_1 }}, {{ cycle_2 }}, {{ cycle_3 }})
),

final as (
    select
        curves.cell_id,
        curves.cycle_index,
        curves.direction,
        curves.cell_id || ' cycle ' || curves.cycle_index || ' ' || curves.direction as series,
        curves.point,
        curves.capacity_ah,
        curves.voltage_volt,
        curves.dqdv
    from curves
)

select
    final.cell_id,
    final.cycle_index,
    final.direction,
    final.series,
    final.point,
    final.capacity_ah,
    final.voltage_volt,
    final.dqdv
from final
order by final.cell_id, final.cycle_index, final.direction, final.point
