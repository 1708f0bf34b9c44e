-- A cell whose metadata says nothing about a counter electrode, and whose complete cycles live below 2 V
-- with their lower cut-off near 0 V, is an anode (graphite, silicon, hard carbon) against a lithium metal
-- counter electrode: a half-cell, inferred from the voltage window (docs/adr/0009). Never overrides what
-- metadata said; an earlier inference is judged again. Binds: :cell_id, :half_cell.
update blc.cell as cell
set
    half_cell = cast(:half_cell as boolean),
    half_cell_basis = case when cast(:half_cell as boolean) then 'voltage window' end
where
    cell.cell_id = :cell_id
    and (cell.half_cell is null or cell.half_cell_basis = 'voltage window')
    and (cell.half_cell, cell.half_cell_basis) is distinct from (
        cast(:half_cell as boolean), case when cast(:half_cell as boolean) then 'voltage window' end
    )
