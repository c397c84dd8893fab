"""The run store, Run handle, progress display, reports and statistics across seeds."""
