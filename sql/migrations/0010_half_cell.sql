-- DESIGN §11: half-cells (a Li/Na/K metal counter electrode) are flagged; their coulombic efficiency stays
-- in the full-cell convention (discharge ÷ charge), which for a half-cell reads as the inverse of the
-- anode-mode efficiency some tools show. NULL: not stated. From sidecars (connectors/sidecars.py).
alter table blc.cell add column half_cell boolean;
