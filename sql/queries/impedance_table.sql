-- `blc impedance`: a cell's impedance spectra, one row per point. Sweeps are numbered through the cell in
-- its files' stitch order (`file_sweep`: within the file); cycle and test time are the stitched ones (the
-- file's offsets, as blc.cell_timeseries applies them). Files superseded or not loaded are left out.
with spectrum as (
    select
        impedance.*,
        source_file.stitch_position,
        coalesce(source_file.cycle_offset, 0) as cycle_offset,
        coalesce(source_file.test_time_offset_second, 0) as test_time_offset_second
    from blc.impedance_spectrum as impedance
    inner join blc.source_file as source_file on source_file.file_id = impedance.file_id
    where impedance.cell_id = :cell_id and source_file.status in ('loaded', 'processed')
)

select
    spectrum.cell_id,
    dense_rank() over (
        order by spectrum.stitch_position nulls last, spectrum.file_id, spectrum.sweep
    ) as sweep,
    spectrum.point,
    spectrum.cycle_index + spectrum.cycle_offset as cycle_index,
    spectrum.test_time_second + spectrum.test_time_offset_second as test_time_second,
    spectrum.unix_time_second,
    spectrum.frequency_hertz,
    spectrum.real_impedance_ohm,
    spectrum.imaginary_impedance_ohm,
    spectrum.absolute_impedance_ohm,
    spectrum.phase_degree,
    spectrum.current_ampere,
    spectrum.voltage_volt,
    spectrum.file_id,
    spectrum.sweep as file_sweep,
    spectrum.cycle_count,
    spectrum.step_id
from spectrum
order by sweep, spectrum.point
