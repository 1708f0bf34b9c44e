-- The fade fits computed in Python (blc.process), handed to the SQL fade steps in two temporary tables:
-- the coulombic-inefficiency trend per complete cycle and the knee onset of the cell.
-- Binds: :cycles, :values (arrays), :knee_cycle, :knee_retention.
drop table if exists pg_temp.fade_trend;
drop table if exists pg_temp.fade_knee;
create temporary table fade_trend on commit drop as
select trend.cycle_index, trend.coulombic_inefficiency_smoothed
from unnest(cast(:cycles as integer[]), cast(:values as double precision[]))
    as trend (cycle_index, coulombic_inefficiency_smoothed);
create temporary table fade_knee on commit drop as
select
    cast(:knee_cycle as integer) as knee_onset_cycle,
    cast(:knee_retention as double precision) as knee_onset_retention;
