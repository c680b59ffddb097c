"""Run records, Pareto fronts, plots and exports."""
