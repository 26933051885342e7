"""Reports: the tables, renderers and plots over the results of a run."""
