-- Per-project read access (docs/access.md). Each project may have a read-only role blc_project_<name>
-- (`blc project add`); a role sees the rows of the projects whose role it holds, through row-level
-- security on every table that carries cell data, and nothing else. The owner (Airflow, the CLI) is not
-- subject to these policies: it writes and reads everything.
--
-- blc_reader holds the read privileges every project role needs (it is granted to each); it sees no row
-- by itself. Roles belong to the cluster, not the database: created here only when missing.
do $$
begin
    if not exists (select 1 from pg_roles where rolname = 'blc_reader') then
        create role blc_reader nologin;
    end if;
end
$$;

grant usage on schema blc, batteryarchive to blc_reader;
grant select on all tables in schema blc, batteryarchive to blc_reader;
alter default privileges in schema blc grant select on tables to blc_reader;
alter default privileges in schema batteryarchive grant select on tables to blc_reader;
grant execute on function blc.finite(double precision) to blc_reader;

-- A project is visible to the roles that hold its role (directly or through another role).
alter table blc.project enable row level security;
create policy project_member on blc.project for select using (
    exists (
        select 1 from pg_catalog.pg_roles as project_role
        where project_role.rolname = 'blc_project_' || project.name
        and pg_catalog.pg_has_role(current_user, project_role.oid, 'USAGE')
    )
);

-- Everything else follows the cell, and the cell its project: each policy reads the table one step up,
-- whose own policy has already filtered it.
alter table blc.cell enable row level security;
create policy cell_of_visible_project on blc.cell for select
    using (project_id in (select visible.project_id from blc.project as visible));

alter table blc.source_file enable row level security;
create policy file_of_visible_cell on blc.source_file for select
    using (cell_id in (select visible.cell_id from blc.cell as visible));

alter table blc.timeseries enable row level security;
create policy timeseries_of_visible_cell on blc.timeseries for select
    using (cell_id in (select visible.cell_id from blc.cell as visible));

alter table blc.cycle_stats enable row level security;
create policy cycle_stats_of_visible_cell on blc.cycle_stats for select
    using (cell_id in (select visible.cell_id from blc.cell as visible));

alter table blc.capacity_fade enable row level security;
create policy capacity_fade_of_visible_cell on blc.capacity_fade for select
    using (cell_id in (select visible.cell_id from blc.cell as visible));

alter table blc.cell_summary enable row level security;
create policy cell_summary_of_visible_cell on blc.cell_summary for select
    using (cell_id in (select visible.cell_id from blc.cell as visible));

alter table blc.impedance_spectrum enable row level security;
create policy impedance_of_visible_cell on blc.impedance_spectrum for select
    using (cell_id in (select visible.cell_id from blc.cell as visible));

alter table blc.file_cycle_stats enable row level security;
create policy file_cycle_stats_of_visible_file on blc.file_cycle_stats for select
    using (file_id in (select visible.file_id from blc.source_file as visible));

alter table blc.file_curve enable row level security;
create policy file_curve_of_visible_file on blc.file_curve for select
    using (file_id in (select visible.file_id from blc.source_file as visible));

alter table blc.vendor_cycle_summary enable row level security;
create policy vendor_summary_of_visible_file on blc.vendor_cycle_summary for select
    using (file_id in (select visible.file_id from blc.source_file as visible));

alter table blc.validation_result enable row level security;
create policy validation_of_visible_file on blc.validation_result for select
    using (file_id in (select visible.file_id from blc.source_file as visible));

-- Paths of the share and the bucket, not cell data: no project role sees them (no policy: no row).
alter table blc.unreadable_entry enable row level security;
alter table blc.s3_object enable row level security;
revoke select on blc.schema_migrations, blc.unreadable_entry, blc.s3_object from blc_reader;

-- A view reads its tables with its owner's rights unless it runs as its invoker: these must, or they
-- would hand every project's rows to any role allowed to read them.
alter view blc.curve set (security_invoker = true);
alter view blc.cell_timeseries set (security_invoker = true);
alter view blc.cell_vendor_cycle_summary set (security_invoker = true);
alter view blc.validation_finding set (security_invoker = true);
alter view batteryarchive.cell_metadata set (security_invoker = true);
alter view batteryarchive.cycle_metadata set (security_invoker = true);
alter view batteryarchive.cycle_stats set (security_invoker = true);
alter view batteryarchive.cycle_timeseries set (security_invoker = true);
