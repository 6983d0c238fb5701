"""What every stage passes through: errors a user can cause, the params schema, the paths of
the pipeline's files, the kernel pin, the stage wrapper, seeding and the device, progress bars."""
